"""Client, job_spec and the errors they raise. See the package's docstring."""

import random
import time
import uuid
from dataclasses import dataclass
from typing import Iterator, List, Optional

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from spillway.v1 import common_pb2, jobs_pb2

_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
_DEADLINE = grpc.StatusCode.DEADLINE_EXCEEDED


@dataclass(frozen=True)
class Violation:
    """One field the broker refused, and why."""

    field: str
    description: str


class SpillwayError(Exception):
    """A call the broker refused or could not answer: its gRPC code, message and field violations."""

    def __init__(self, code: grpc.StatusCode, message: str, violations: List[Violation]):
        super().__init__(f"{code.name}: {message}" + "".join(f"\n  {v.field}: {v.description}" for v in violations))
        self.code = code
        self.message = message
        self.violations = violations

    @staticmethod
    def of(error: grpc.RpcError) -> "SpillwayError":
        violations = []
        for key, value in error.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                        bad = error_details_pb2.BadRequest()
                        detail.Unpack(bad)
                        violations += [Violation(v.field, v.description) for v in bad.field_violations]
        return SpillwayError(error.code(), error.details() or "", violations)


def _retry_delay(error: grpc.RpcError) -> Optional[float]:
    """The wait a refusal for the caller's rate asks for (its RetryInfo), in seconds; None when it asks for none."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def job_spec(command, tasks=1, cpu="1", memory="512Mi", name="", tenant="", labels=None, env=None, pools=None,
             spot=False, max_runtime_seconds=None) -> jobs_pb2.JobSpec:
    """A job spec: `command` is a shell line (run with /bin/sh -c) or a list (argv); each task gets SPILLWAY_TASK_INDEX."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    task = jobs_pb2.TaskTemplate(command=argv, env=env or {}, pools=pools or [], spot_tolerant=spot,
                                 resources=common_pb2.Resources(cpu_millis=_cpu_millis(cpu), memory_mib=_memory_mib(memory)))
    if max_runtime_seconds is not None:
        task.max_runtime.CopyFrom(duration_pb2.Duration(seconds=int(max_runtime_seconds)))
    return jobs_pb2.JobSpec(name=name, tenant=tenant, labels=labels or {}, task_count=tasks, task=task)


def _cpu_millis(cpu) -> int:
    text = str(cpu).strip()
    return int(text[:-1]) if text.endswith("m") else int(round(float(text) * 1000))


def _memory_mib(memory) -> int:
    text = str(memory).strip()
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ti", 1024 * 1024)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


class Client:
    """A connection to one broker, calling as the holder of `token`.

    - TLS unless `insecure`: the broker verified against `ca_file` (its own <data-dir>/tls/ca.pem,
      or an enterprise CA), else the system's CAs.
    - Each unary call has `deadline` seconds; a call the broker could not take (UNAVAILABLE) is
      tried again up to `attempts` times in all, waiting longer each time, and one refused for the
      caller's rate (RESOURCE_EXHAUSTED) after the wait the broker asks for. A submission keeps one
      `request_id` across its tries, so a try whose answer was lost cannot store the job twice.
    - watch() resumes after the last event received when the stream breaks, for up to `resume_for`
      seconds without an answer: no event is lost or seen twice.
    """

    def __init__(self, target: str, token: Optional[str] = None, ca_file: Optional[str] = None, insecure: bool = False,
                 deadline: float = 30.0, attempts: int = 5, resume_for: float = 120.0):
        if insecure:
            self._channel = grpc.insecure_channel(target)
        else:
            roots = None
            if ca_file:
                with open(ca_file, "rb") as pem:
                    roots = pem.read()
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))
        self._metadata = (("authorization", "Bearer " + token.strip()),) if token else ()
        self._deadline = deadline
        self._attempts = attempts
        self._resume_for = resume_for
        path = "/spillway.v1.JobService/"
        self._submit = self._unary(path + "SubmitJob", jobs_pb2.SubmitJobRequest, jobs_pb2.Job)
        self._get = self._unary(path + "GetJob", jobs_pb2.GetJobRequest, jobs_pb2.Job)
        self._cancel = self._unary(path + "CancelJob", jobs_pb2.CancelJobRequest, jobs_pb2.Job)
        self._estimate = self._unary(path + "EstimateJob", jobs_pb2.EstimateJobRequest, jobs_pb2.EstimateJobResponse)
        self._list = self._unary(path + "ListJobs", jobs_pb2.ListJobsRequest, jobs_pb2.ListJobsResponse)
        self._watch = self._channel.unary_stream(path + "WatchJob", request_serializer=jobs_pb2.WatchJobRequest.SerializeToString,
                                                 response_deserializer=jobs_pb2.WatchJobResponse.FromString)
        self._logs = self._channel.unary_stream(path + "GetTaskLogs", request_serializer=jobs_pb2.GetTaskLogsRequest.SerializeToString,
                                                response_deserializer=jobs_pb2.GetTaskLogsResponse.FromString)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._channel.close()

    # ---- calls ----

    def submit(self, spec: jobs_pb2.JobSpec, request_id: Optional[str] = None) -> jobs_pb2.Job:
        """Submits `spec`; the job as stored. The same `request_id` within 24 hours answers with the job it made."""
        request = jobs_pb2.SubmitJobRequest(spec=spec, request_id=request_id or str(uuid.uuid4()))
        return self._call(self._submit, request, outcome_unknown_is_retryable=True)

    def get(self, job: str) -> jobs_pb2.Job:
        """The job `job` (jobs/{id} or the bare id) with its task counts."""
        return self._call(self._get, jobs_pb2.GetJobRequest(name=job))

    def cancel(self, job: str) -> jobs_pb2.Job:
        """Cancels `job`: queued tasks never start, running ones are killed."""
        return self._call(self._cancel, jobs_pb2.CancelJobRequest(name=job))

    def estimate(self, spec: jobs_pb2.JobSpec) -> jobs_pb2.EstimateJobResponse:
        """Where `spec` would run now and what it would cost, storing nothing."""
        return self._call(self._estimate, jobs_pb2.EstimateJobRequest(spec=spec))

    def jobs(self, filter: str = "") -> Iterator[jobs_pb2.Job]:
        """The caller's jobs, newest first, that match `filter` (AIP-160), a page at a time as they are read."""
        token = ""
        while True:
            page = self._call(self._list, jobs_pb2.ListJobsRequest(filter=filter, page_size=500, page_token=token))
            yield from page.jobs
            token = page.next_page_token
            if not token:
                return

    def watch(self, job: str) -> Iterator[jobs_pb2.WatchJobResponse]:
        """The job's events until it has finished; resumed after the last one received when the stream breaks."""
        after = None
        failing_since = None
        tries = 0
        while True:
            request = jobs_pb2.WatchJobRequest(name=job)
            if after is not None:
                request.after_sequence = after
            stream = self._watch(request, metadata=self._metadata)
            try:
                for event in stream:
                    after = event.sequence
                    failing_since = None
                    tries = 0
                    yield event
                return
            except grpc.RpcError as error:
                if error.code() != _UNAVAILABLE:
                    raise SpillwayError.of(error) from None
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > self._resume_for:
                    raise SpillwayError.of(error) from None
                tries += 1
                time.sleep(self._backoff(tries))
            finally:
                stream.cancel()

    def logs(self, job: str, task: int, stderr: bool = False, follow: bool = False) -> Iterator[bytes]:
        """The output of task `task` of `job` (its current attempt); with `follow`, new output until the attempt ends."""
        name = (job if job.startswith("jobs/") else "jobs/" + job) + f"/tasks/{task}"
        stream = jobs_pb2.LOG_STREAM_STDERR if stderr else jobs_pb2.LOG_STREAM_STDOUT
        chunks = self._logs(jobs_pb2.GetTaskLogsRequest(name=name, stream=stream, follow=follow), metadata=self._metadata)
        try:
            for chunk in chunks:
                yield chunk.data
        except grpc.RpcError as error:
            raise SpillwayError.of(error) from None
        finally:
            chunks.cancel()

    # ---- retries ----

    def _unary(self, path, request_type, response_type):
        return self._channel.unary_unary(path, request_serializer=request_type.SerializeToString,
                                         response_deserializer=response_type.FromString)

    def _call(self, method, request, outcome_unknown_is_retryable=False):
        for attempt in range(1, self._attempts + 1):
            try:
                return method(request, timeout=self._deadline, metadata=self._metadata)
            except grpc.RpcError as error:
                if attempt == self._attempts:
                    raise SpillwayError.of(error) from None
                if error.code() == _UNAVAILABLE or (outcome_unknown_is_retryable and error.code() == _DEADLINE):
                    time.sleep(self._backoff(attempt))
                elif error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and _retry_delay(error) is not None:
                    time.sleep(_retry_delay(error))
                else:
                    raise SpillwayError.of(error) from None

    @staticmethod
    def _backoff(attempt: int) -> float:
        ceiling = min(4.0, 0.25 * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)
