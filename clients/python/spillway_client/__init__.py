"""The Python client of a Spillway broker (spillway.v1 over gRPC).

    from spillway_client import Client, job_spec

    with Client("broker.example.com:7070", token=os.environ["SPILLWAY_TOKEN"], ca_file="ca.pem") as spillway:
        job = spillway.submit(job_spec("echo task $SPILLWAY_TASK_INDEX", tasks=4))
        for event in spillway.watch(job.name):
            print(event.sequence, event.message)

Needs grpcio and protobuf (Debian: python3-grpcio, python3-protobuf) and the message modules the
Maven build generates into clients/python/target/python (on the path before this package is
imported; see clients/python/README.md).
"""

from spillway_client.client import Client, SpillwayError, Violation, job_spec

__all__ = ["Client", "SpillwayError", "Violation", "job_spec"]
