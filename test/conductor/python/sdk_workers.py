# Workers written as Conductor users write them with conductor-python: one
# function per task type. Each behaves by its run's param1, so one flow
# shows a retry after a failure ("long": t1 fails its first attempt), a task
# that comes back later (t2 answers IN_PROGRESS with a callback once), a
# long task (t3 works for 3 s) and a terminal error ("terminal").
import time

from conductor.client.http.models import Task, TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.worker.exception import NonRetryableException


def handed(task: Task):
    """What the SDK handed the worker, echoed in the output so the test can compare it with the run."""
    return {
        "workflow_instance_id": task.workflow_instance_id,
        "workflow_type": task.workflow_type,
        "correlation_id": task.correlation_id,
        "workflow_priority": task.workflow_priority,
        "task_def_name": task.task_def_name,
        "task_type": task.task_type,
        "reference_task_name": task.reference_task_name,
        "seq": task.seq,
        "scheduled_time": task.scheduled_time,
        "start_time": task.start_time,
        "retry_count": task.retry_count,
        "poll_count": task.poll_count,
        "response_timeout_seconds": task.response_timeout_seconds,
        "input_data": task.input_data,
        "status": task.status,
    }


def task_1(task: Task):
    scenario = (task.input_data or {}).get("p1")
    if scenario == "terminal":
        raise NonRetryableException("this input can never work")
    if scenario == "long" and task.retry_count == 0:
        raise Exception("flaky the first time")
    return {"op": f"t1 of {scenario}", "handed": handed(task)}


def task_2(task: Task):
    if (task.input_data or {}).get("tp1") == "long" and (task.poll_count or 0) <= 1:
        result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id)
        result.status = TaskResultStatus.IN_PROGRESS
        result.callback_after_seconds = 1
        result.output_data = {"waiting": True}
        return result
    return {"polls": task.poll_count}


def task_3(task: Task):
    if (task.input_data or {}).get("tp1") == "long":
        time.sleep(3)
    return {"done": True, "handed": handed(task)}
