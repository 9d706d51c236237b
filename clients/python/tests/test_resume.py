"""The client against a misbehaving in-process gRPC server: lost answers, broken streams, refusals."""

import threading
import time
import unittest
from concurrent import futures

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from spillway.v1 import jobs_pb2
from spillway_client import Client, SpillwayError, job_spec


class FlakyJobService:
    """SubmitJob loses its first answers; WatchJob breaks after its first events; both as scripted."""

    def __init__(self):
        self.lock = threading.Lock()
        self.submissions = []
        self.jobs_by_request = {}
        self.lose_answers = 2
        self.watches = []
        self.credentials = []
        self.gets = 0
        self.rate_limit_gets = 1

    def submit(self, request, context):
        with self.lock:
            self.credentials.append(dict(context.invocation_metadata()).get("authorization"))
            self.submissions.append(request)
            if request.spec.task_count < 1:
                detail = error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(
                    field="spec.task_count", description="at least 1")])
                status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="invalid job spec")
                status.details.add().Pack(detail)
                context.abort_with_status(_RichStatus(status))
            job = self.jobs_by_request.setdefault(request.request_id, jobs_pb2.Job(name=f"jobs/{len(self.jobs_by_request)}"))
            if self.lose_answers > 0:
                self.lose_answers -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
            return job

    def get(self, request, context):
        self.gets += 1
        if self.rate_limit_gets > 0:
            self.rate_limit_gets -= 1
            status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="over the rate")
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=50_000_000)))
            context.abort_with_status(_RichStatus(status, grpc.StatusCode.RESOURCE_EXHAUSTED))
        return jobs_pb2.Job(name=request.name)

    def watch(self, request, context):
        call = len(self.watches)
        self.watches.append(request.after_sequence if request.HasField("after_sequence") else None)
        script = [[1, 2, 3], [], [4, 5]][call]
        for sequence in script:
            yield jobs_pb2.WatchJobResponse(sequence=sequence)
        if call < 2:
            context.abort(grpc.StatusCode.UNAVAILABLE, "broker shutting down")


class _RichStatus(grpc.Status):
    def __init__(self, status, code=grpc.StatusCode.INVALID_ARGUMENT):
        self.code = code
        self.details = status.message
        self.trailing_metadata = (("grpc-status-details-bin", status.SerializeToString()),)


class ClientAgainstAFlakyServer(unittest.TestCase):

    def setUp(self):
        self.service = FlakyJobService()
        handlers = {
            "SubmitJob": grpc.unary_unary_rpc_method_handler(self.service.submit, request_deserializer=jobs_pb2.SubmitJobRequest.FromString,
                                                             response_serializer=jobs_pb2.Job.SerializeToString),
            "GetJob": grpc.unary_unary_rpc_method_handler(self.service.get, request_deserializer=jobs_pb2.GetJobRequest.FromString,
                                                          response_serializer=jobs_pb2.Job.SerializeToString),
            "WatchJob": grpc.unary_stream_rpc_method_handler(self.service.watch, request_deserializer=jobs_pb2.WatchJobRequest.FromString,
                                                             response_serializer=jobs_pb2.WatchJobResponse.SerializeToString),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("spillway.v1.JobService", handlers),))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.client = Client(f"127.0.0.1:{port}", token="spw_test", insecure=True, deadline=5)

    def tearDown(self):
        self.client.close()
        self.server.stop(None)

    def test_a_submission_whose_answers_are_lost_is_stored_once_under_one_request_id(self):
        job = self.client.submit(job_spec("true", tasks=2))
        self.assertEqual(3, len(self.service.submissions))
        self.assertEqual(1, len({s.request_id for s in self.service.submissions}))
        self.assertEqual(1, len(self.service.jobs_by_request))
        self.assertEqual("jobs/0", job.name)
        self.assertEqual({"Bearer spw_test"}, set(self.service.credentials))

    def test_a_refusal_comes_at_once_with_its_field_violations(self):
        with self.assertRaises(SpillwayError) as refused:
            self.client.submit(job_spec("true", tasks=0))
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, refused.exception.code)
        self.assertEqual(["spec.task_count"], [v.field for v in refused.exception.violations])
        self.assertEqual(1, len(self.service.submissions))

    def test_a_broken_watch_resumes_after_the_last_event_with_none_lost_or_repeated(self):
        seen = [e.sequence for e in self.client.watch("jobs/x")]
        self.assertEqual([1, 2, 3, 4, 5], seen)
        self.assertEqual([None, 3, 3], self.service.watches)

    def test_a_rate_limit_is_waited_out_for_as_long_as_the_broker_asks(self):
        started = time.monotonic()
        self.assertEqual("jobs/x", self.client.get("jobs/x").name)
        self.assertEqual(2, self.service.gets)
        self.assertGreaterEqual(time.monotonic() - started, 0.05)

    def test_job_spec_reads_cores_and_memory_as_the_cli_does(self):
        spec = job_spec(["python3", "train.py"], tasks=4, cpu="500m", memory="2Gi", labels={"team": "ml"})
        self.assertEqual(500, spec.task.resources.cpu_millis)
        self.assertEqual(2048, spec.task.resources.memory_mib)
        self.assertEqual(["python3", "train.py"], list(spec.task.command))
        self.assertEqual(1500, job_spec("true", cpu="1.5").task.resources.cpu_millis)


if __name__ == "__main__":
    unittest.main()
