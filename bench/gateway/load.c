/*
 * Load for bench/gateway/run.sh, in C (like pgbench on the direct path, so
 * that the client's own cost does not decide the ratio): N threads, each a
 * client on its own run and its own keep-alive connection, each sending span
 * calls through prefactor-gateway as @prefactor/core's HTTP client does: POST
 * /api/v1/agent_spans, then POST /api/v1/agent_spans/{id}/finish, JSON bodies
 * shaped as the SDK sends them, one call at a time, for a given time.
 *
 * Usage: load <port> <token> <clients> <seconds> <run id>...
 *        load <port> <token> <clients> <seconds> --otlp <batch file>
 * (the OTLP hook: every call posts the batch to /v1/traces; "spans" counts calls)
 * Prints one JSON line: {spans, seconds, spans_per_s, span_ms: {p50, p99},
 * request_ms: {p50, p99}, errors, client_cpu_ms}.
 * Built by run.sh: cc -O2 -pthread -o load load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int	port;
static const char *token;
static double deadline;
static char filler[601];
static char nonce[64];			/* makes the SDK span ids of this process unique */
static char *otlp_batch;		/* --otlp: the batch posted by every call */

typedef struct client
{
	const char *run;
	int			fd;
	unsigned long serial;
	double	   *spans;
	size_t		nspans, capspans;
	double	   *requests;
	size_t		nrequests, caprequests;
	long		errors;
	char		buf[65536];
} client;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
push(double **xs, size_t *n, size_t *cap, double v)
{
	if (*n == *cap)
	{
		*cap = *cap ? *cap * 2 : 4096;
		*xs = realloc(*xs, *cap * sizeof(double));
		if (*xs == NULL)
			abort();
	}
	(*xs)[(*n)++] = v;
}

/* The current time in ISO 8601, as the SDK sends times. */
static void
iso_now(char *out, size_t size)
{
	struct timespec t;
	struct tm	tm;
	char		s[32];

	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", s, (int) (t.tv_nsec / 1000000L % 1000));
}

static int
connect_gateway(void)
{
	struct sockaddr_in sa = {0};
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	int			on = 1;

	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
	{
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/* One request on the client's connection; the answer's body into c->buf. Status or -1. */
static int
request(client *c, const char *path, const char *body)
{
	char		head[512];
	size_t		len = strlen(body);
	size_t		got = 0;
	char	   *end;
	long		clen;
	int			status;
	double		t0 = now_s();

	snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
			 "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n", path, token, len);
	if (write(c->fd, head, strlen(head)) < 0 || write(c->fd, body, len) < 0)
		return -1;
	for (;;)
	{
		ssize_t		n = read(c->fd, c->buf + got, sizeof(c->buf) - 1 - got);

		if (n <= 0)
			return -1;
		got += n;
		c->buf[got] = '\0';
		if ((end = strstr(c->buf, "\r\n\r\n")) != NULL)
		{
			char	   *cl = strcasestr(c->buf, "\r\nContent-Length:");

			clen = cl ? strtol(cl + 17, NULL, 10) : 0;
			if ((size_t) (end + 4 - c->buf) + clen <= got)
				break;
		}
	}
	status = atoi(c->buf + 9);
	memmove(c->buf, end + 4, clen);
	c->buf[clen] = '\0';
	push(&c->requests, &c->nrequests, &c->caprequests, (now_s() - t0) * 1000);
	if (status != 200)
		c->errors++;
	return status;
}

static void *
run_client(void *arg)
{
	client	   *c = arg;
	char	   *mine = malloc(4096);
	char		id[64];
	char		path[128];
	char		at[40];

	c->fd = connect_gateway();
	while (now_s() < deadline)
	{
		double		t0 = now_s();
		char	   *p;

		if (otlp_batch != NULL)
		{
			/* the OTLP hook: one batch per call */
			request(c, "/v1/traces", otlp_batch);
			push(&c->spans, &c->nspans, &c->capspans, (now_s() - t0) * 1000);
			continue;
		}
		iso_now(at, sizeof(at));
		snprintf(mine, 4096,
				 "{\"details\": {\"agent_instance_id\": \"%s\", \"schema_name\": \"llm\", \"status\": \"active\", "
				 "\"payload\": {\"span_id\": \"%s-%p-%lu\", \"trace_id\": \"bench-trace\", \"name\": \"llm\", "
				 "\"status\": \"active\", \"inputs\": {\"model\": \"gpt-4o\", \"prompt\": \"%s\"}, \"outputs\": null, "
				 "\"metadata\": {}, \"token_usage\": null, \"error\": null}, \"parent_span_id\": null, "
				 "\"started_at\": \"%s\", \"finished_at\": null}}",
				 c->run, nonce, (void *) c, c->serial++, filler, at);
		if (request(c, "/api/v1/agent_spans", mine) != 200 || (p = strstr(c->buf, "\"id\": \"")) == NULL)
			continue;
		p += 7;
		snprintf(id, sizeof(id), "%.*s", (int) strcspn(p, "\""), p);
		snprintf(path, sizeof(path), "/api/v1/agent_spans/%s/finish", id);
		iso_now(at, sizeof(at));
		snprintf(mine, 4096, "{\"timestamp\": \"%s\", \"status\": \"complete\", "
				 "\"result_payload\": {\"output\": \"%s\"}}", at, filler);
		request(c, path, mine);
		push(&c->spans, &c->nspans, &c->capspans, (now_s() - t0) * 1000);
	}
	close(c->fd);
	free(mine);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double		x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
pct(double *xs, size_t n, double p)
{
	size_t		i = (size_t) (p * n);

	if (n == 0)
		return 0;
	qsort(xs, n, sizeof(double), cmp);
	return xs[i < n ? i : n - 1];
}

int
main(int argc, char **argv)
{
	int			clients;
	double		seconds, started, elapsed;
	client	   *cs;
	pthread_t  *ts;
	double	   *spans = NULL, *requests = NULL;
	size_t		nspans = 0, capspans = 0, nrequests = 0, caprequests = 0;
	long		errors = 0;
	struct rusage ru;

	if (argc < 6)
	{
		fprintf(stderr, "usage: load <port> <token> <clients> <seconds> <run id>... | --otlp <batch file>\n");
		return 2;
	}
	if (strcmp(argv[5], "--otlp") == 0 && argc == 7)
	{
		FILE	   *f = fopen(argv[6], "rb");
		long		len;

		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
			(otlp_batch = calloc(1, len + 1)) == NULL || fread(otlp_batch, 1, len, f) != (size_t) len)
		{
			perror(argv[6]);
			return 1;
		}
		fclose(f);
	}
	port = atoi(argv[1]);
	token = argv[2];
	clients = atoi(argv[3]);
	seconds = atof(argv[4]);
	memset(filler, 'x', 600);
	{
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		snprintf(nonce, sizeof(nonce), "%d-%ld.%09ld", (int) getpid(), (long) t.tv_sec, t.tv_nsec);
	}
	cs = calloc(clients, sizeof(client));
	ts = calloc(clients, sizeof(pthread_t));
	started = now_s();
	deadline = started + seconds;
	for (int i = 0; i < clients; i++)
	{
		cs[i].run = argv[5 + i % (argc - 5)];
		pthread_create(&ts[i], NULL, run_client, &cs[i]);
	}
	for (int i = 0; i < clients; i++)
	{
		pthread_join(ts[i], NULL);
		for (size_t j = 0; j < cs[i].nspans; j++)
			push(&spans, &nspans, &capspans, cs[i].spans[j]);
		for (size_t j = 0; j < cs[i].nrequests; j++)
			push(&requests, &nrequests, &caprequests, cs[i].requests[j]);
		errors += cs[i].errors;
	}
	elapsed = now_s() - started;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"spans\": %zu, \"seconds\": %.2f, \"spans_per_s\": %.1f, \"span_ms\": {\"p50\": %.2f, \"p99\": %.2f}, "
		   "\"request_ms\": {\"p50\": %.2f, \"p99\": %.2f}, \"errors\": %ld, \"client_cpu_ms\": %.0f}\n",
		   nspans, elapsed, nspans / elapsed, pct(spans, nspans, 0.5), pct(spans, nspans, 0.99),
		   pct(requests, nrequests, 0.5), pct(requests, nrequests, 0.99), errors,
		   (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0);
	return 0;
}
