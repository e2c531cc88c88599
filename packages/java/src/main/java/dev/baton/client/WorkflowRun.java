package dev.baton.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.json.BatonJson;
import dev.baton.v1.Workflow;
import java.io.UncheckedIOException;

/**
 * A run as the server reported it: the fields most callers need, with payloads
 * parsed (numbers exact), and the full proto message in {@link #raw()}.
 *
 * @param finished true when the run had ended when this view was taken
 */
public record WorkflowRun(
        String workflowId,
        String workflowName,
        int workflowVersion,
        WorkflowState status,
        JsonNode input,
        JsonNode output,
        String reasonForIncompletion,
        String correlationId,
        boolean finished,
        Workflow raw) {

    static WorkflowRun of(Workflow workflow, boolean finished) {
        return new WorkflowRun(
                workflow.getWorkflowId(),
                workflow.getWorkflowName(),
                workflow.getWorkflowVersion(),
                WorkflowState.of(workflow.getStatus()),
                BatonJson.parse(workflow.getInputJson(), BatonJson.mapper().createObjectNode()),
                BatonJson.parse(workflow.getOutputJson(), BatonJson.mapper().createObjectNode()),
                workflow.getReasonForIncompletion(),
                workflow.getCorrelationId(),
                finished,
                workflow);
    }

    static WorkflowRun of(Workflow workflow) {
        return of(workflow, WorkflowState.of(workflow.getStatus()).isTerminal());
    }

    /** The output bound to {@code type} (a record, a POJO, a Map). */
    public <T> T output(Class<T> type) {
        try {
            return BatonJson.mapper().treeToValue(output, type);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot read the output as " + type.getSimpleName(), e);
        }
    }

    public boolean succeeded() {
        return status == WorkflowState.COMPLETED;
    }
}
