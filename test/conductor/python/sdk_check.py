# conductor-python, unchanged from PyPI, against Baton's REST API: its
# TaskHandler runs worker processes for a Conductor fixture flow, and its
# workflow client registers, starts, waits, reads, searches and operates
# runs. Prints one JSON object of what it saw; the Node test asserts on it.
# Usage: sdk_check.py <server api url> <key id> <key secret> <fixture.json>
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models import RerunWorkflowRequest, StartWorkflowRequest, TaskDef
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient
from conductor.client.worker.worker import Worker

import sdk_workers


def main():
    url, key_id, key_secret, fixture = sys.argv[1:5]
    config = Configuration(server_api_url=url, authentication_settings=AuthenticationSettings(key_id=key_id, key_secret=key_secret))
    metadata = OrkesMetadataClient(config)
    workflows = OrkesWorkflowClient(config)
    for name, retries, response_timeout in [("integration_task_1", 1, 60), ("integration_task_2", 0, 60), ("integration_task_3", 0, 60), ("integration_task_4", 0, 60)]:
        metadata.register_task_def(TaskDef(name=name, retry_count=retries, retry_logic="FIXED", retry_delay_seconds=0, timeout_seconds=120, response_timeout_seconds=response_timeout))
    with open(fixture) as f:
        definition = ApiClient(config).deserialize_class(json.load(f), "WorkflowDef")
    metadata.register_workflow_def(definition, overwrite=True)
    name = definition.name
    seen = {}

    def start(param1, correlation_id, priority=0):
        return workflows.start_workflow(StartWorkflowRequest(name=name, version=1, correlation_id=correlation_id, priority=priority, input={"param1": param1}))

    def finished(workflow_id, timeout=60):
        deadline = time.time() + timeout
        while True:
            run = workflows.get_workflow(workflow_id, include_tasks=True)
            if run.status != "RUNNING" or time.time() > deadline:
                return run
            time.sleep(0.05)

    def tasks_of(run):
        return [[t.reference_task_name, t.status, t.retry_count, t.worker_id] for t in run.tasks]

    workers = [
        Worker("integration_task_1", sdk_workers.task_1, poll_interval=10, worker_id="py-sdk", thread_count=2),
        Worker("integration_task_2", sdk_workers.task_2, poll_interval=10, worker_id="py-sdk", thread_count=2),
        Worker("integration_task_3", sdk_workers.task_3, poll_interval=10, worker_id="py-sdk", thread_count=2),
    ]
    with TaskHandler(workers=workers, configuration=config, scan_for_annotated_workers=False, monitor_processes=False) as handler:
        handler.start_processes()
        try:
            long_id = start("long", "py-long", priority=7)
            long_run = finished(long_id)
            seen["long"] = {"status": long_run.status, "tasks": tasks_of(long_run), "t2_output": long_run.tasks[2].output_data if len(long_run.tasks) > 2 else None}
            # Each task as the worker was handed it (echoed in its output), beside the task as the run holds it.
            seen["handed"] = [
                {"workflow_id": long_id, "handed": (t.output_data or {}).get("handed"), "stored": {"seq": t.seq, "scheduled_time": t.scheduled_time, "retry_count": t.retry_count, "input_data": t.input_data, "task_def_name": t.task_def_name, "task_type": t.task_type}}
                for t in long_run.tasks
                if t.status == "COMPLETED" and t.reference_task_name in ("t1", "t3")
            ]

            terminal_id = start("terminal", "py-terminal")
            terminal = finished(terminal_id)
            seen["terminal"] = {"status": terminal.status, "tasks": tasks_of(terminal), "reason": terminal.tasks[0].reason_for_incompletion}
            # Retry runs the failed task again; it fails terminally again: the run is FAILED once more.
            workflows.retry_workflow(terminal_id)
            seen["terminal_retried"] = {"status": finished(terminal_id).status, "attempts": len(finished(terminal_id).tasks)}

            waited = workflows.execute_workflow(StartWorkflowRequest(name=name, version=1, correlation_id="py-sync", input={"param1": "sync"}), request_id="py-req", wait_for_seconds=20)
            seen["sync"] = {"status": waited.status, "workflow_id": waited.workflow_id, "output_t1": None}
            found = workflows.search(start=0, size=10, free_text="*", query=f"workflowType = '{name}' AND status IN (COMPLETED) AND correlationId = 'py-sync'")
            seen["search"] = [r.workflow_id for r in found.results]

            sync_run = workflows.get_workflow(waited.workflow_id, include_tasks=True)
            t2 = [t for t in sync_run.tasks if t.reference_task_name == "t2"][0]
            workflows.rerun_workflow(waited.workflow_id, RerunWorkflowRequest(re_run_from_task_id=t2.task_id, task_input={"tp1": "again"}))
            rerun = finished(waited.workflow_id)
            seen["rerun"] = {"status": rerun.status, "t2_input": [t.input_data for t in rerun.tasks if t.reference_task_name == "t2"][0]}
        finally:
            handler.stop_processes()

    # Operator actions on a run no worker serves (integration_task_4 is not polled).
    idle = {"name": "py_idle_flow", "version": 1, "schemaVersion": 2, "tasks": [{"name": "integration_task_4", "taskReferenceName": "t4", "type": "SIMPLE"}]}
    metadata.register_workflow_def(ApiClient(config).deserialize_class(idle, "WorkflowDef"), overwrite=True)
    idle_id = workflows.start_workflow(StartWorkflowRequest(name="py_idle_flow", version=1, input={}))
    workflows.pause_workflow(idle_id)
    paused = workflows.get_workflow(idle_id, include_tasks=False).status
    workflows.resume_workflow(idle_id)
    resumed = workflows.get_workflow(idle_id, include_tasks=False).status
    workflows.terminate_workflow(idle_id, reason="stopped by the python client")
    ended = workflows.get_workflow(idle_id, include_tasks=True)
    seen["operate"] = {"paused": paused, "resumed": resumed, "ended": ended.status, "reason": ended.reason_for_incompletion}

    # Removing definitions as Conductor does: the run already started on the removed version goes on.
    metadata.register_task_def(TaskDef(name="py_removed_task", retry_count=0, timeout_seconds=60, response_timeout_seconds=30))
    for version in (1, 2):
        removed = {"name": "py_removed_flow", "version": version, "schemaVersion": 2, "tasks": [{"name": "py_removed_task", "taskReferenceName": "r", "type": "SIMPLE"}]}
        metadata.register_workflow_def(ApiClient(config).deserialize_class(removed, "WorkflowDef"), overwrite=True)
    removed_run = workflows.start_workflow(StartWorkflowRequest(name="py_removed_flow", version=2, input={}))
    metadata.unregister_workflow_def("py_removed_flow", 2)
    metadata.unregister_task_def("py_removed_task")
    refused = []
    for attempt in (lambda: metadata.unregister_workflow_def("py_removed_flow", 2), lambda: metadata.unregister_task_def("py_removed_task")):
        try:
            attempt()
            refused.append(None)
        except Exception as error:  # the SDK raises its ApiException with the HTTP status
            refused.append(getattr(error, "status", None) or getattr(error, "code", None) or str(error))
    latest = metadata.get_workflow_def("py_removed_flow")
    seen["removed"] = {"latest": latest.version, "refused": refused, "run": workflows.get_workflow(removed_run, include_tasks=False).status}
    workflows.terminate_workflow(removed_run, reason="done")
    print("RESULT " + json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
