package dev.spillway.cli;

import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.Task;
import java.util.List;

/** A job with every one of its tasks: GetJob, then ListTasks page by page (as {@code spillway job --tasks all}). */
public record JobAndTasks(Job job, List<Task> tasks) {

    public JobAndTasks {
        tasks = List.copyOf(tasks);
    }

    public static JobAndTasks read(JobServiceGrpc.JobServiceBlockingStub jobs, String job) {
        Job j = jobs.getJob(dev.spillway.api.v1.GetJobRequest.newBuilder().setName(job).build());
        return new JobAndTasks(j, JobCommands.tasks(jobs, j.getName(), Integer.MAX_VALUE, List.of()));
    }

    public Job getJob() {
        return job;
    }

    public List<Task> getTasksList() {
        return tasks;
    }

    /** The task at {@code index} of the list (its index in the job, for a job read whole). */
    public Task getTasks(int index) {
        return tasks.get(index);
    }
}
