/*
 * probe: reports facts about the process it runs as, from the inside of a container, one
 * `key=value` line per fact, so that tests can assert on namespaces, credentials, capabilities,
 * seccomp, masked paths, mounts and limits. Static, no dependencies beyond libc.
 *
 * usage: probe CMD [ARG] [CMD [ARG]...]   (commands run in order)
 *   all                   every fact below
 *   pid ppid ids hostname cwd ns status denied masked procsys rlimit umask mounts cgroup idmap
 *   sched
 *   exit N                exit with status N
 *   sleep N               sleep N seconds (output is flushed first)
 *   fork-bomb [MAX]       fork until fork fails or MAX (default 512) children; report the count
 *   alloc MB              allocate and touch MB mebibytes
 *   udp-echo PORT         answer every UDP datagram on 0.0.0.0:PORT with itself, forever
 *
 * Keys: pid, ppid, uid, gid, euid, egid, groups, hostname, cwd, ns.<name> (inode), CapInh,
 * CapPrm, CapEff, CapBnd, CapAmb, NoNewPrivs, Seccomp (as in /proc/self/status), mount,
 * unshare_newns, keyctl, clone_newuser (ok or the errno name), kcore and firmware (masked,
 * readable or the errno name), procsys (EROFS, writable or the errno name), nofile_soft,
 * nofile_hard, umask (octal), mountinfo (one line each), cgroup (one /proc/self/cgroup line each),
 * memory_max, pids_max, forks, fork_error, alloc_mb, uid_map and gid_map (one line each),
 * and sched's (see sched_facts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

static void pid(void) { printf("pid=%d\n", getpid()); }
static void ppid(void) { printf("ppid=%d\n", getppid()); }

static void ids(void)
{
	gid_t groups[256];
	int n = getgroups(256, groups);
	printf("uid=%u\ngid=%u\neuid=%u\negid=%u\ngroups=", getuid(), getgid(), geteuid(), getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf("\n");
}

static void hostname(void)
{
	char name[256] = "";
	gethostname(name, sizeof name - 1);
	printf("hostname=%s\n", name);
}

static void cwd(void)
{
	char dir[4096];
	printf("cwd=%s\n", getcwd(dir, sizeof dir) ? dir : err_name(errno));
}

static void ns(void)
{
	static const char *names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
				      "time", "time_for_children", "user", "uts"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[64], link[128];
		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		char *open = strchr(link, '[');
		printf("ns.%s=%lu\n", names[i], open ? strtoul(open + 1, NULL, 10) : 0UL);
	}
}

/* Copies lines of `path` whose key is in `keys` (NULL: every line, prefixed with `prefix`). */
static void copy_lines(const char *path, const char *const *keys, const char *prefix)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	if (!f) {
		printf("%s=%s\n", prefix, err_name(errno));
		return;
	}
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!keys) {
			printf("%s=%s\n", prefix, line);
			continue;
		}
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		for (const char *const *k = keys; *k; k++)
			if (!strcmp(line, *k))
				printf("%s=%s\n", line, colon + 1 + strspn(colon + 1, " \t"));
	}
	fclose(f);
}

static void status(void)
{
	static const char *const keys[] = {"CapInh", "CapPrm",     "CapEff",  "CapBnd",
					   "CapAmb", "NoNewPrivs", "Seccomp", NULL};
	copy_lines("/proc/self/status", keys, "status");
}

/* Runs `fn` in a child so that a success changes nothing here; reports ok or the errno. */
static void in_child(const char *key, int (*fn)(void))
{
	fflush(stdout);
	pid_t child = fork();
	if (child == 0)
		_exit(fn() == 0 ? 0 : (errno & 0xff));
	int st = 0;
	if (child < 0 || waitpid(child, &st, 0) < 0) {
		printf("%s=%s\n", key, err_name(errno));
		return;
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	printf("%s=%s\n", key, code == 0 ? "ok" : err_name(code));
}

static int do_unshare_newns(void) { return unshare(CLONE_NEWNS); }

static int do_clone_newuser(void)
{
	/* Raw clone with no stack behaves like fork. */
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r < 0 ? -1 : 0;
}

static void denied(void)
{
	/* A filesystem type that does not exist: with the privilege to mount the kernel answers
	 * ENODEV and mounts nothing; without it, EPERM (from the capability check or seccomp). */
	int r = mount("none", "/", "hull-probe-no-such-fs", 0, NULL);
	printf("mount=%s\n", r == 0 ? "ok" : err_name(errno));
	in_child("unshare_newns", do_unshare_newns);
	/* KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), without creating it. */
	long k = syscall(SYS_keyctl, 0, -3, 0);
	printf("keyctl=%s\n", k >= 0 ? "ok" : err_name(errno));
	in_child("clone_newuser", do_clone_newuser);
}

static void masked(void)
{
	char byte;
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("kcore=%s\n", err_name(errno));
	} else {
		ssize_t n = read(fd, &byte, 1);
		printf("kcore=%s\n", n == 1 ? "readable" : n == 0 ? "masked" : err_name(errno));
		close(fd);
	}
	DIR *d = opendir("/sys/firmware");
	if (!d) {
		printf("firmware=%s\n", err_name(errno));
	} else {
		int entries = 0;
		struct dirent *e;
		while ((e = readdir(d)))
			entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		printf("firmware=%s\n", entries ? "readable" : "masked");
	}
}

static void procsys(void)
{
	/* Opened for writing and closed without writing anything. */
	int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	printf("procsys=%s\n", fd >= 0 ? "writable" : err_name(errno));
	if (fd >= 0)
		close(fd);
}

static void rlimit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0)
		printf("nofile_soft=%llu\nnofile_hard=%llu\n", (unsigned long long)r.rlim_cur,
		       (unsigned long long)r.rlim_max);
}

static void print_umask(void)
{
	mode_t m = umask(0);
	umask(m);
	printf("umask=%04o\n", m);
}

static void mounts(void) { copy_lines("/proc/self/mountinfo", NULL, "mountinfo"); }

/* Prints the first line of the first readable file among `paths` as `key`. */
static void first_of(const char *key, const char *const *paths)
{
	for (; *paths; paths++) {
		char value[128];
		FILE *f = fopen(*paths, "re");
		if (!f)
			continue;
		if (fgets(value, sizeof value, f)) {
			value[strcspn(value, "\n")] = 0;
			printf("%s=%s\n", key, value);
			fclose(f);
			return;
		}
		fclose(f);
	}
	printf("%s=none\n", key);
}

/* The process's own cgroup directory for a v1 controller ("memory") or v2 (""), from
 * /proc/self/cgroup; "" when unknown. */
static void own_cgroup(const char *controller, char *out, size_t size)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *list = strchr(line, ':');
		char *path = list ? strchr(list + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = 0;
		list++;
		int match = *controller ? strstr(list, controller) != NULL : *list == 0;
		if (match && strcmp(path, "/")) {
			snprintf(out, size, "%s", path);
			break;
		}
	}
	fclose(f);
}

static void cgroup(void)
{
	char v2[512], mem[512], pids[512];
	char p1[1024], p2[1024], p3[1024], p4[1024];
	copy_lines("/proc/self/cgroup", NULL, "cgroup");
	own_cgroup("", v2, sizeof v2);
	own_cgroup("memory", mem, sizeof mem);
	own_cgroup("pids", pids, sizeof pids);
	snprintf(p1, sizeof p1, "/sys/fs/cgroup%s/memory.max", v2);
	snprintf(p2, sizeof p2, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", mem);
	const char *const memory_paths[] = {p1, "/sys/fs/cgroup/memory.max", p2,
					    "/sys/fs/cgroup/memory/memory.limit_in_bytes", NULL};
	first_of("memory_max", memory_paths);
	snprintf(p3, sizeof p3, "/sys/fs/cgroup%s/pids.max", v2);
	snprintf(p4, sizeof p4, "/sys/fs/cgroup/pids%s/pids.max", pids);
	const char *const pids_paths[] = {p3, "/sys/fs/cgroup/pids.max", p4,
					  "/sys/fs/cgroup/pids/pids.max", NULL};
	first_of("pids_max", pids_paths);
}

static void fork_bomb(long max)
{
	static pid_t children[65536];
	long n = 0;
	int error = 0;
	if (max <= 0 || max > 65536)
		max = 65536;
	fflush(stdout);
	while (n < max) {
		pid_t c = fork();
		if (c == 0) {
			pause();
			_exit(0);
		}
		if (c < 0) {
			error = errno;
			break;
		}
		children[n++] = c;
	}
	for (long i = 0; i < n; i++)
		kill(children[i], SIGKILL);
	for (long i = 0; i < n; i++)
		waitpid(children[i], NULL, 0);
	printf("forks=%ld\nfork_error=%s\n", n, error ? err_name(error) : "none");
}

static void alloc(long mb)
{
	size_t size = (size_t)mb << 20;
	long page = sysconf(_SC_PAGESIZE);
	char *p = malloc(size);
	if (!p) {
		printf("alloc_mb=%s\n", err_name(errno));
		return;
	}
	for (size_t i = 0; i < size; i += (size_t)page)
		p[i] = 1;
	printf("alloc_mb=%ld\n", mb);
}

/* uid_map / gid_map: one `uid_map=` / `gid_map=` line per mapping, spaces squeezed. */
static void idmap(void)
{
	static const char *const files[] = {"uid_map", "gid_map"};
	for (int i = 0; i < 2; i++) {
		char path[64], line[256];
		snprintf(path, sizeof path, "/proc/self/%s", files[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		unsigned long in, out, n;
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "%lu %lu %lu", &in, &out, &n) == 3)
				printf("%s=%lu %lu %lu\n", files[i], in, out, n);
		fclose(f);
	}
}

/*
 * sched: what runtime-spec 1.2's process attributes set, read back from the kernel:
 * ioprio_class, ioprio_level (ioprio_get), sched_policy, sched_nice, sched_priority
 * (sched_getattr), Cpus_allowed_list (/proc/self/status), personality (/proc/self/personality,
 * hex), machine (uname), mempolicy_mode, mempolicy_flags (the MPOL_F_* bits, hex) and
 * mempolicy_nodes (the first 64 nodes' mask, hex) from get_mempolicy. Raw syscalls: glibc
 * wraps neither ioprio_get nor sched_getattr, and get_mempolicy lives in libnuma.
 */
static void sched_facts(void)
{
	long prio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
	if (prio < 0)
		printf("ioprio_class=%s\n", err_name(errno));
	else
		printf("ioprio_class=%ld\nioprio_level=%ld\n", prio >> 13, prio & 0x1fff);
	struct {
		unsigned size, policy;
		unsigned long long flags;
		int nice;
		unsigned priority;
		unsigned long long runtime, deadline, period;
	} attr = {0};
	if (syscall(SYS_sched_getattr, 0, &attr, (unsigned)sizeof attr, 0) < 0)
		printf("sched_policy=%s\n", err_name(errno));
	else
		printf("sched_policy=%u\nsched_nice=%d\nsched_priority=%u\n", attr.policy, attr.nice,
		       attr.priority);
	static const char *const cpus[] = {"Cpus_allowed_list", NULL};
	copy_lines("/proc/self/status", cpus, "cpus");
	copy_lines("/proc/self/personality", NULL, "personality");
	struct utsname u;
	printf("machine=%s\n", uname(&u) == 0 ? u.machine : err_name(errno));
	int mode = 0;
	unsigned long nodes[16] = {0};
	if (syscall(SYS_get_mempolicy, &mode, nodes, 16 * 64UL, 0UL, 0UL) < 0) {
		printf("mempolicy_mode=%s\n", err_name(errno));
		return;
	}
	printf("mempolicy_mode=%d\nmempolicy_flags=%x\nmempolicy_nodes=%lx\n", mode & 0xff,
	       mode & ~0xff, nodes[0]);
}

static void all(void)
{
	pid();
	ppid();
	ids();
	hostname();
	cwd();
	ns();
	status();
	denied();
	masked();
	procsys();
	rlimit();
	print_umask();
	mounts();
	cgroup();
}

static const struct {
	const char *name;
	void (*fn)(void);
} facts[] = {
	{"all", all},       {"pid", pid},         {"ppid", ppid},         {"ids", ids},
	{"hostname", hostname}, {"cwd", cwd},     {"ns", ns},             {"status", status},
	{"denied", denied}, {"masked", masked},   {"procsys", procsys},   {"rlimit", rlimit},
	{"umask", print_umask}, {"mounts", mounts}, {"cgroup", cgroup}, {"idmap", idmap},
	{"sched", sched_facts},
};

/* A UDP echo server (busybox's nc has no UDP), for tests of published UDP ports. */
static void udp_echo(long port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		printf("udp_echo=%s\n", err_name(errno));
		return;
	}
	printf("udp_echo=listening\n");
	fflush(stdout);
	for (;;) {
		char buf[2048];
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
	}
}

/* The numeric argument after argv[*i], or `fallback` when there is none. */
static long number_arg(int argc, char **argv, int *i, long fallback)
{
	if (*i + 1 < argc) {
		char *end;
		long v = strtol(argv[*i + 1], &end, 10);
		if (*end == 0) {
			++*i;
			return v;
		}
	}
	return fallback;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: probe all|pid|...|exit N|sleep N|fork-bomb [MAX]|alloc MB\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *cmd = argv[i];
		size_t f;
		for (f = 0; f < sizeof facts / sizeof *facts; f++)
			if (!strcmp(cmd, facts[f].name))
				break;
		if (f < sizeof facts / sizeof *facts) {
			facts[f].fn();
		} else if (!strcmp(cmd, "exit")) {
			fflush(stdout);
			return (int)number_arg(argc, argv, &i, 0);
		} else if (!strcmp(cmd, "sleep")) {
			fflush(stdout);
			sleep((unsigned)number_arg(argc, argv, &i, 1));
		} else if (!strcmp(cmd, "fork-bomb")) {
			fork_bomb(number_arg(argc, argv, &i, 512));
		} else if (!strcmp(cmd, "alloc")) {
			alloc(number_arg(argc, argv, &i, 1));
		} else if (!strcmp(cmd, "udp-echo")) {
			udp_echo(number_arg(argc, argv, &i, 5353));
		} else {
			fprintf(stderr, "probe: unknown command %s\n", cmd);
			return 2;
		}
	}
	fflush(stdout);
	return 0;
}
