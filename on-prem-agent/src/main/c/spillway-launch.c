/*
 * spillway-launch: how a Spillway agent starts an attempt's first process, in one exec.
 *
 *   spillway-launch [--cgroup-procs FILE] [--new-session] [--drop-caps]
 *                   [--user UID --group GID --groups G1,G2,...] [--chdir DIR] -- COMMAND [ARG...]
 *
 * Whatever the order of the options, the steps run in this order, each one before anything of the
 * task can run or fork:
 *   1. --cgroup-procs: writes "0" to FILE (a cgroup's cgroup.procs), moving this process into it;
 *   2. --new-session:  setsid(), so the task leads its own session and process group;
 *   3. --drop-caps:    clears the ambient and inheritable capability sets, so the command starts
 *                      with none of the agent's capabilities (as setpriv --inh-caps=-all
 *                      --ambient-caps=-all);
 *   4. --user:         setgroups(GROUPS), setresgid(GID), setresuid(UID), then checks that all
 *                      three ids of each kind changed (a root agent's permitted and effective
 *                      capabilities go with the switch to another uid);
 *   5. --chdir:        chdir(DIR), as the task's user (a relative DIR: the task's user may not be
 *                      able to reach its directory by the full path);
 *   6. execvp(COMMAND) with the environment it was given.
 * If a step fails, nothing of COMMAND runs: one line on stderr, and exit 125 (126 when COMMAND
 * cannot be executed, 127 when it is not found, as shells do).
 *
 * It replaces a chain of four programs (sh for the cgroup, setsid, setpriv, sh for the directory),
 * each a dynamically linked exec; built statically, it is one cheap exec. The agent falls back
 * to that chain when this program is not in its jar or does not run on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LAUNCH_FAILED 125
#define MAX_GROUPS 1024

static void fail(const char *what, const char *arg) {
    int e = errno;
    fprintf(stderr, "spillway-launch: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(e));
    exit(LAUNCH_FAILED);
}

static void usage(const char *why) {
    fprintf(stderr, "spillway-launch: %s\nusage: spillway-launch [--cgroup-procs FILE] [--new-session] [--drop-caps] "
                    "[--user UID --group GID --groups G1,G2,...] [--chdir DIR] -- COMMAND [ARG...]\n", why);
    exit(LAUNCH_FAILED);
}

/* A decimal id (0 .. 2^32-2); exits on anything else. */
static unsigned long parse_id(const char *s, const char *option) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') usage(option);
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v >= 0xffffffffUL) usage(option);
    return v;
}

static size_t parse_groups(char *list, gid_t *out) {
    size_t n = 0;
    if (*list == '\0') return 0;
    for (char *save = NULL, *g = strtok_r(list, ",", &save); g != NULL; g = strtok_r(NULL, ",", &save)) {
        if (n == MAX_GROUPS) usage("--groups: too many groups");
        out[n++] = (gid_t) parse_id(g, "--groups: not a list of group ids");
    }
    return n;
}

static void enter_cgroup(const char *procs) {
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot enter the attempt's cgroup", procs);
    if (write(fd, "0", 1) != 1) fail("cannot enter the attempt's cgroup", procs);
    if (close(fd) != 0) fail("cannot enter the attempt's cgroup", procs);
}

static void drop_caps(void) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail("cannot clear the ambient capabilities", NULL);
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, data) != 0) fail("cannot read the capabilities", NULL);
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) data[i].inheritable = 0;
    if (syscall(SYS_capset, &header, data) != 0) fail("cannot clear the inheritable capabilities", NULL);
}

static void switch_user(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups) {
    if (setgroups(ngroups, groups) != 0) fail("cannot set the task user's groups", NULL);
    if (setresgid(gid, gid, gid) != 0) fail("cannot switch to the task user's group", NULL);
    if (setresuid(uid, uid, uid) != 0) fail("cannot switch to the task user", NULL);
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) {
        errno = EPERM;
        fail("the switch to the task user did not hold", NULL);
    }
    if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) {
        errno = EPERM;
        fail("the switch to the task user's group did not hold", NULL);
    }
}

int main(int argc, char **argv) {
    const char *procs = NULL, *dir = NULL;
    int session = 0, caps = 0, have_uid = 0, have_gid = 0, have_groups = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    static gid_t groups[MAX_GROUPS];
    size_t ngroups = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        int has_value = i + 1 < argc;
        if (strcmp(a, "--cgroup-procs") == 0 && has_value) procs = argv[++i];
        else if (strcmp(a, "--new-session") == 0) session = 1;
        else if (strcmp(a, "--drop-caps") == 0) caps = 1;
        else if (strcmp(a, "--user") == 0 && has_value) uid = (uid_t) parse_id(argv[++i], "--user: not a uid"), have_uid = 1;
        else if (strcmp(a, "--group") == 0 && has_value) gid = (gid_t) parse_id(argv[++i], "--group: not a gid"), have_gid = 1;
        else if (strcmp(a, "--groups") == 0 && has_value) ngroups = parse_groups(argv[++i], groups), have_groups = 1;
        else if (strcmp(a, "--chdir") == 0 && has_value) dir = argv[++i];
        else usage("unknown option or missing value");
    }
    if (i >= argc) usage("no command after --");
    if (have_uid != have_gid || have_uid != have_groups) usage("--user, --group and --groups go together");

    if (procs != NULL) enter_cgroup(procs);
    if (session && setsid() < 0) fail("cannot start a new session", NULL);
    if (caps) drop_caps();
    if (have_uid) switch_user(uid, gid, groups, ngroups);
    if (dir != NULL && chdir(dir) != 0) fail("cannot enter the task's directory", dir);
    execvp(argv[i], argv + i);
    int e = errno;
    fprintf(stderr, "spillway-launch: cannot run %s: %s\n", argv[i], strerror(e));
    return e == ENOENT || e == ENOTDIR ? 127 : 126;
}
