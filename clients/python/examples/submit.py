import os
from spillway_client import Client, job_spec

home = os.path.expanduser("~/.spillway")
token = open(os.environ.get("SPILLWAY_TOKEN_FILE", home + "/admin-key")).read()
with Client(os.environ.get("SPILLWAY_BROKER", "127.0.0.1:7070"), token=token, ca_file=home + "/tls/ca.pem") as spillway:
    job = spillway.submit(job_spec("echo hello from task $SPILLWAY_TASK_INDEX", tasks=3, cpu="500m", name="hello-python"))
    for event in spillway.watch(job.name):
        print(event.sequence, f"task {event.task_index}" if event.task else "job", event.message)
    print(job.uid, b"".join(spillway.logs(job.name, task=0)).decode().strip())
