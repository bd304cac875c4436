/*
 * ipcbench measures the Linux kernel's own pipe and POSIX message queue, as
 * the baseline for vproc's ipc benchmarks. Two processes (parent and forked
 * child) play the producer and the consumer, as two goroutines do on the Go
 * side. Each figure is printed as one "key value" line.
 *
 *   pipe_4k_gbps, pipe_64k_gbps  pipe throughput with 4 KiB / 64 KiB writes
 *   mq_<maxmsg>_msgs             mqueue throughput, 64-byte messages, msgs/s
 *   pipe_pingpong_ns             1-byte round trip over two pipes
 *   mq_pingpong_ns               64-byte round trip over two queues
 *
 * Build: gcc -O2 -o ipcbench ipcbench.c -lrt
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_SIZE 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ipcbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		buf += k;
		n -= (size_t)k;
	}
}

static void reap(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ipcbench: child failed\n");
		exit(1);
	}
}

/* pipe_throughput streams total bytes in chunk-sized writes; returns GB/s. */
static double pipe_throughput(size_t chunk, size_t total)
{
	int fds[2];
	char *buf = calloc(1, chunk);
	if (!buf || pipe(fds) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fds[1]);
		for (;;) {
			ssize_t k = read(fds[0], buf, chunk);
			if (k == 0)
				_exit(0);
			if (k < 0 && errno != EINTR)
				_exit(1);
		}
	}
	close(fds[0]);
	double t0 = now();
	for (size_t done = 0; done < total; done += chunk)
		write_all(fds[1], buf, chunk);
	close(fds[1]);
	reap(pid);
	double t1 = now();
	free(buf);
	return total / (t1 - t0) / 1e9;
}

static double pipe_pingpong(long rounds)
{
	int a[2], b[2];
	char c = 'x';
	if (pipe(a) < 0 || pipe(b) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		while (read(a[0], &c, 1) == 1)
			if (write(b[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	double t0 = now();
	for (long i = 0; i < rounds; i++) {
		if (write(a[1], &c, 1) != 1)
			die("write");
		if (read(b[0], &c, 1) != 1)
			die("read");
	}
	double t1 = now();
	close(a[1]);
	reap(pid);
	close(b[0]);
	return (t1 - t0) / rounds * 1e9;
}

/* open_queue creates a fresh queue; returns (mqd_t)-1 if the attributes are
 * refused (an unprivileged maxmsg above fs.mqueue.msg_max, for instance). */
static mqd_t open_queue(char *name, size_t len, const char *tag, long maxmsg)
{
	struct mq_attr attr = {.mq_maxmsg = maxmsg, .mq_msgsize = MSG_SIZE};
	snprintf(name, len, "/ipcbench-%d-%s", (int)getpid(), tag);
	mq_unlink(name);
	return mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
}

/* mq_throughput returns msgs/s, or -1 if the queue can't be created. */
static double mq_throughput(long maxmsg, long count)
{
	char name[64], msg[MSG_SIZE] = {0};
	mqd_t q = open_queue(name, sizeof name, "tp", maxmsg);
	if (q == (mqd_t)-1)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (long i = 0; i < count; i++)
			if (mq_receive(q, msg, MSG_SIZE, NULL) < 0)
				_exit(1);
		_exit(0);
	}
	double t0 = now();
	for (long i = 0; i < count; i++)
		if (mq_send(q, msg, MSG_SIZE, 0) < 0)
			die("mq_send");
	reap(pid);
	double t1 = now();
	mq_close(q);
	mq_unlink(name);
	return count / (t1 - t0);
}

static double mq_pingpong(long rounds)
{
	char n1[64], n2[64], msg[MSG_SIZE] = {0};
	mqd_t ping = open_queue(n1, sizeof n1, "ping", 10);
	mqd_t pong = open_queue(n2, sizeof n2, "pong", 10);
	if (ping == (mqd_t)-1 || pong == (mqd_t)-1)
		die("mq_open");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (long i = 0; i < rounds; i++) {
			ssize_t k = mq_receive(ping, msg, MSG_SIZE, NULL);
			if (k < 0 || mq_send(pong, msg, (size_t)k, 0) < 0)
				_exit(1);
		}
		_exit(0);
	}
	double t0 = now();
	for (long i = 0; i < rounds; i++) {
		if (mq_send(ping, msg, MSG_SIZE, 0) < 0)
			die("mq_send");
		if (mq_receive(pong, msg, MSG_SIZE, NULL) < 0)
			die("mq_receive");
	}
	double t1 = now();
	reap(pid);
	mq_close(ping);
	mq_close(pong);
	mq_unlink(n1);
	mq_unlink(n2);
	return (t1 - t0) / rounds * 1e9;
}

int main(void)
{
	const size_t total = (size_t)2 << 30;
	printf("pipe_4k_gbps %.3f\n", pipe_throughput(4 << 10, total));
	printf("pipe_64k_gbps %.3f\n", pipe_throughput(64 << 10, total));

	const long maxmsgs[] = {10, 256, 1024};
	for (size_t i = 0; i < sizeof maxmsgs / sizeof maxmsgs[0]; i++) {
		double r = mq_throughput(maxmsgs[i], 2000000);
		if (r < 0)
			printf("mq_%ld_msgs n/a # mq_open(maxmsg=%ld, msgsize=%d): %s\n",
			       maxmsgs[i], maxmsgs[i], MSG_SIZE, strerror(errno));
		else
			printf("mq_%ld_msgs %.0f\n", maxmsgs[i], r);
	}

	printf("pipe_pingpong_ns %.0f\n", pipe_pingpong(200000));
	printf("mq_pingpong_ns %.0f\n", mq_pingpong(200000));
	return 0;
}
