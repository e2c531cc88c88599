// The shape of one validation finding, shared by every rule.

export interface ValidationIssue {
  /** JSON pointer into the definition, e.g. "/tasks/2/forkTasks/0/1/taskReferenceName". */
  path: string;
  message: string;
}

export interface ValidationResult {
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}
