// How large a run's variables may grow (SET_VARIABLE, a loop's bookkeeping):
// beyond this a change is refused and the task fails, as in Conductor.
export const MAX_VARIABLES_BYTES = 256 * 1024;
