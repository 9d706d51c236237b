"""The client against a real broker (started by the Java test PythonClientIT, which passes its address and keys)."""

import os
import unittest
import uuid

import grpc

from spillway.v1 import common_pb2
from spillway_client import Client, SpillwayError, job_spec


def _client(token_file):
    with open(token_file) as f:
        return Client(os.environ["SPILLWAY_BROKER"], token=f.read(), ca_file=os.environ["SPILLWAY_CA"])


class ClientAgainstABroker(unittest.TestCase):

    def setUp(self):
        self.client = _client(os.environ["SPILLWAY_TOKEN_FILE"])

    def tearDown(self):
        self.client.close()

    def test_a_job_is_submitted_watched_to_its_end_and_its_output_read(self):
        job = self.client.submit(job_spec("echo python $SPILLWAY_TASK_INDEX", tasks=3, cpu="250m", memory="64Mi",
                                          name="py-suite", labels={"suite": "python"}))
        events = list(self.client.watch(job.name))
        sequences = [e.sequence for e in events]
        self.assertEqual(sorted(set(sequences)), sequences)
        self.assertEqual(common_pb2.JOB_STATE_SUCCEEDED, events[-1].job_state)
        self.assertEqual(common_pb2.JOB_STATE_SUCCEEDED, self.client.get(job.name).state)
        self.assertEqual("python 2", b"".join(self.client.logs(job.uid, task=2)).decode().strip())
        self.assertIn(job.name, [j.name for j in self.client.jobs('labels.suite = "python"')])

    def test_the_same_request_id_is_one_job(self):
        request_id = str(uuid.uuid4())
        first = self.client.submit(job_spec("true", cpu="100m", memory="16Mi"), request_id=request_id)
        again = self.client.submit(job_spec("true", cpu="100m", memory="16Mi"), request_id=request_id)
        self.assertEqual(first.name, again.name)

    def test_an_invalid_spec_is_refused_naming_its_field(self):
        with self.assertRaises(SpillwayError) as refused:
            self.client.submit(job_spec("true", tasks=0))
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, refused.exception.code)
        self.assertIn("spec.task_count", [v.field for v in refused.exception.violations])

    def test_a_quote_costs_nothing_to_ask(self):
        quote = self.client.estimate(job_spec("sleep 1", tasks=2, cpu="500m", max_runtime_seconds=60))
        self.assertTrue(quote.HasField("not_to_exceed_cost"))

    def test_another_tenant_cannot_see_the_job_and_a_wrong_key_is_refused(self):
        job = self.client.submit(job_spec("true", cpu="100m", memory="16Mi"))
        with _client(os.environ["SPILLWAY_OTHER_TOKEN_FILE"]) as other:
            with self.assertRaises(SpillwayError) as hidden:
                other.get(job.name)
            self.assertEqual(grpc.StatusCode.NOT_FOUND, hidden.exception.code)
            self.assertNotIn(job.name, [j.name for j in other.jobs()])
        with Client(os.environ["SPILLWAY_BROKER"], token="spw_not-a-key", ca_file=os.environ["SPILLWAY_CA"], attempts=1) as stranger:
            with self.assertRaises(SpillwayError) as refused:
                stranger.get(job.name)
            self.assertEqual(grpc.StatusCode.UNAUTHENTICATED, refused.exception.code)


if __name__ == "__main__":
    unittest.main()
