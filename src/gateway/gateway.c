/*
 * prefactor-gateway: Prefactor's SDK protocol and OTLP/HTTP over HTTP, onto
 * the SQL functions of the prefactor extension.
 *
 * Transport only. Each request is routed by method and path to ONE SQL call
 * (an SDK operation, prefactor_otlp_export) with the bearer token, the id of
 * the path and the body as jsonb; the function checks the token and answers
 * (http_status, body), which is sent back as it is. The SDK operations are
 * called by the token's account, prefactor_sdk_call(account, operation,
 * token, id, body), which Citus sends whole to the account's worker (the
 * functions by token alone run on the coordinator); the account is looked up
 * once a TTL (prefactor_token_account; token_cache.h) and is routing only:
 * the database checks the token at every call. A token without an account
 * (unknown, wrong, revoked, expired), and a call by account refused with 401
 * (revoked since it was cached), is called by the token alone
 * (prefactor_sdk_register, _start, _finish, _create_span, _finish_span),
 * which answers it as ever. The gateway itself answers only what
 * never reaches a function: unknown paths (404), wrong methods (405), wrong
 * content types or encodings (415), bodies over the limit (413, also once
 * inflated from gzip), gzip or OTLP protobuf that does not decode (400), a
 * body PostgreSQL does not read as JSON (400: the jsonb parameter is refused
 * before any function runs),
 * timeouts (504, 408), an unreachable or busy database (503) and SQL errors
 * the functions do not map (500, generic). Every answer it makes is a short
 * JSON error in the SDK's envelope {"status": "error", "code", "message"}.
 *
 * OTLP protobuf (application/x-protobuf on /v1/traces) is decoded to the
 * OTLP/JSON the function takes (otlp_proto.h), and every answer to such a
 * request, the function's and the gateway's own, is sent in protobuf
 * (ExportTraceServiceResponse, google.rpc.Status). Content-Encoding: gzip
 * bodies are inflated first (gunzip.h), on every route.
 *
 * Threads: libmicrohttpd runs one thread per client connection, so a slow
 * client holds only its own thread; a pooled database connection is borrowed
 * only once a request's body has arrived, for the one call.
 *
 * Logging: at most one line per request (method, path, status, duration) and
 * connection events. Never a body, a token or SQL error text (which can quote
 * client data); SQL errors are logged by SQLSTATE only.
 */
#include "node_route.h"
#include "pool.h"
#include "log.h"
#include "token_cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bounded_buf.h"
#include "gunzip.h"
#include "otlp_proto.h"

#define GATEWAY_VERSION "0.2.0"

/* ------------------------------------------------------------------------
 * Configuration: flags, else environment variables, else defaults.
 * ------------------------------------------------------------------------ */
typedef struct gateway_config
{
	const char *conninfo;
	const char *listen_address;
	int			port;
	int			pool_size;
	long		max_body;
	int			request_timeout_ms;
	int			client_timeout_s;
	int			max_connections;
	const char *tls_cert;
	const char *tls_key;
	const char *user;
	bool		access_log;
	int			token_cache_size;
	int			token_cache_ttl_s;
	bool		route_by_node;
} gateway_config;

static gateway_config cfg = {
	.conninfo = "dbname=prefactor user=prefactor_gateway",
	.listen_address = "127.0.0.1",
	.port = 8439,
	.pool_size = 4,
	.max_body = 1024 * 1024,
	.request_timeout_ms = 10000,
	.client_timeout_s = 30,
	.max_connections = 256,
	.access_log = true,
	.token_cache_size = 1024,
	.token_cache_ttl_s = 60,
};

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: prefactor-gateway [OPTION]...\n"
			"Serves Prefactor's SDK protocol (@prefactor/core) and OTLP/HTTP traces (JSON or protobuf) over HTTP,\n"
			"one SQL call of the prefactor extension per request. Each option can also be set by\n"
			"the environment variable in brackets; a flag wins over the variable.\n"
			"\n"
			"  -d, --db=CONNINFO          libpq connection string of the least-privilege login role\n"
			"                             [PREFACTOR_GATEWAY_DB] (default: \"%s\";\n"
			"                             PGHOST, PGPORT, PGPASSWORD, ... apply as in libpq)\n"
			"  -l, --listen=ADDRESS       address to listen on, IPv4 or IPv6 [PREFACTOR_GATEWAY_LISTEN]\n"
			"                             (default: %s)\n"
			"  -p, --port=PORT            TCP port [PREFACTOR_GATEWAY_PORT] (default: %d)\n"
			"  -n, --pool-size=N          pooled database connections, 1..1000 [PREFACTOR_GATEWAY_POOL_SIZE]\n"
			"                             (default: %d)\n"
			"  -b, --max-body=BYTES       largest request body; a larger one is answered 413 without\n"
			"                             being read (K and M suffixes); a gzip body inflated past it 413\n"
			"                             too [PREFACTOR_GATEWAY_MAX_BODY] (default: 1M)\n"
			"  -t, --request-timeout=MS   statement_timeout of each SQL call (answered 504), the longest\n"
			"                             wait for a pooled connection (503) and for a body to arrive\n"
			"                             (408, or the connection is closed while it still trickles in)\n"
			"                             [PREFACTOR_GATEWAY_REQUEST_TIMEOUT] (default: %d)\n"
			"  -c, --client-timeout=S     a client connection idle this long is closed\n"
			"                             [PREFACTOR_GATEWAY_CLIENT_TIMEOUT] (default: %d)\n"
			"  -m, --max-connections=N    concurrent client connections [PREFACTOR_GATEWAY_MAX_CONNECTIONS]\n"
			"                             (default: %d)\n"
			"      --tls-cert=FILE        PEM certificate (chain): serve HTTPS [PREFACTOR_GATEWAY_TLS_CERT]\n"
			"      --tls-key=FILE         PEM private key of the certificate [PREFACTOR_GATEWAY_TLS_KEY]\n"
			"  -u, --user=NAME            when started as root: the user to run as once the port is\n"
			"                             bound and the TLS files are read [PREFACTOR_GATEWAY_USER];\n"
			"                             as root without it the gateway refuses to start\n"
			"      --no-access-log        no line per request [PREFACTOR_GATEWAY_ACCESS_LOG=off]\n"
			"      --token-cache-size=N   ingest tokens whose account is kept, to call the SDK functions\n"
			"                             by account; 0: looked up at every call, 0..1000000\n"
			"                             [PREFACTOR_GATEWAY_TOKEN_CACHE_SIZE] (default: %d)\n"
			"      --token-cache-ttl=S    seconds a token's account is kept, 1..86400; routing only: every\n"
			"                             call checks its token, so a token revoked meanwhile is refused\n"
			"                             [PREFACTOR_GATEWAY_TOKEN_CACHE_TTL] (default: %d)\n"
			"      --route-by-node        on Citus: send each account's calls to the node holding its\n"
			"                             shards (prefactor_account_node, kept for the token cache's TTL)\n"
			"                             instead of through the coordinator; the connection string's\n"
			"                             host and port are replaced by the node's\n"
			"                             [PREFACTOR_GATEWAY_ROUTE_BY_NODE=on]\n"
			"  -h, --help                 this help\n"
			"  -V, --version              the version\n"
			"\n"
			"Routes (a bearer token in \"Authorization: Bearer <token>\"; bodies application/json):\n"
			"  POST /api/v1/agent_instance/register       prefactor_sdk_call(account, 'register', token, NULL, body)\n"
			"  POST /api/v1/agent_instance/{id}/start     prefactor_sdk_call(account, 'start', token, id, body)\n"
			"  POST /api/v1/agent_instance/{id}/finish    prefactor_sdk_call(account, 'finish', token, id, body)\n"
			"  POST /api/v1/agent_spans                   prefactor_sdk_call(account, 'create_span', token, NULL, body)\n"
			"  POST /api/v1/agent_spans/{id}/finish       prefactor_sdk_call(account, 'finish_span', token, id, body)\n"
			"    (account: prefactor_token_account(token), kept for --token-cache-ttl; a token without\n"
			"    one is called by token alone, prefactor_sdk_register(token, body) and so on)\n"
			"  POST /v1/traces                            prefactor_sdk_call(account, 'otlp_export', token, NULL, body)\n"
			"                                             (OTLP/HTTP JSON; by token: prefactor_otlp_export(token, body))\n"
			"  GET  /healthz                              200 when a pooled connection answers SELECT 1\n"
			"OTLP may also come as protobuf (Content-Type: application/x-protobuf): decoded to JSON for the\n"
			"call, answered in protobuf. Any body may come with Content-Encoding: gzip.\n"
			"Stops on SIGTERM or SIGINT after the requests in flight are answered.\n",
			cfg.conninfo, cfg.listen_address, cfg.port, cfg.pool_size, cfg.request_timeout_ms,
			cfg.client_timeout_s, cfg.max_connections, cfg.token_cache_size, cfg.token_cache_ttl_s);
}

static void
die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "prefactor-gateway: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void
gw_log(const char *fmt,...)
{
	char		line[1024];
	char		stamp[32];
	struct timespec now;
	struct tm	tm;
	va_list		ap;
	size_t		len;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* libpq's messages end with a newline: one line per event */
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ prefactor-gateway: %s\n", stamp, now.tv_nsec / 1000000L, line);
}

static long
parse_number(const char *what, const char *s, long min, long max, bool size_suffix)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (size_suffix && end != s && (*end == 'k' || *end == 'K') && end[1] == '\0' && v <= LONG_MAX / 1024)
		v *= 1024, end++;
	else if (size_suffix && end != s && (*end == 'm' || *end == 'M') && end[1] == '\0' && v <= LONG_MAX / 1048576)
		v *= 1048576, end++;
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die("%s must be a number from %ld to %ld, not \"%s\"", what, min, max, s);
	return v;
}

static bool
parse_onoff(const char *what, const char *s)
{
	if (strcasecmp(s, "on") == 0 || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		return true;
	if (strcasecmp(s, "off") == 0 || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		return false;
	die("%s must be on or off, not \"%s\"", what, s);
}

static void
read_config(int argc, char **argv)
{
	enum
	{
		OPT_TLS_CERT = 1000, OPT_TLS_KEY, OPT_NO_ACCESS_LOG, OPT_TOKEN_CACHE_SIZE, OPT_TOKEN_CACHE_TTL,
		OPT_ROUTE_BY_NODE
	};
	static const struct option options[] = {
		{"db", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"port", required_argument, NULL, 'p'},
		{"pool-size", required_argument, NULL, 'n'},
		{"max-body", required_argument, NULL, 'b'},
		{"request-timeout", required_argument, NULL, 't'},
		{"client-timeout", required_argument, NULL, 'c'},
		{"max-connections", required_argument, NULL, 'm'},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"user", required_argument, NULL, 'u'},
		{"no-access-log", no_argument, NULL, OPT_NO_ACCESS_LOG},
		{"token-cache-size", required_argument, NULL, OPT_TOKEN_CACHE_SIZE},
		{"token-cache-ttl", required_argument, NULL, OPT_TOKEN_CACHE_TTL},
		{"route-by-node", no_argument, NULL, OPT_ROUTE_BY_NODE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	const char *v;
	int			opt;

	/* the environment first, so that flags override it */
	if ((v = getenv("PREFACTOR_GATEWAY_DB")) != NULL)
		cfg.conninfo = v;
	if ((v = getenv("PREFACTOR_GATEWAY_LISTEN")) != NULL)
		cfg.listen_address = v;
	if ((v = getenv("PREFACTOR_GATEWAY_PORT")) != NULL)
		cfg.port = parse_number("PREFACTOR_GATEWAY_PORT", v, 1, 65535, false);
	if ((v = getenv("PREFACTOR_GATEWAY_POOL_SIZE")) != NULL)
		cfg.pool_size = parse_number("PREFACTOR_GATEWAY_POOL_SIZE", v, 1, 1000, false);
	if ((v = getenv("PREFACTOR_GATEWAY_MAX_BODY")) != NULL)
		cfg.max_body = parse_number("PREFACTOR_GATEWAY_MAX_BODY", v, 1, 256L * 1048576, true);
	if ((v = getenv("PREFACTOR_GATEWAY_REQUEST_TIMEOUT")) != NULL)
		cfg.request_timeout_ms = parse_number("PREFACTOR_GATEWAY_REQUEST_TIMEOUT", v, 1, 3600000, false);
	if ((v = getenv("PREFACTOR_GATEWAY_CLIENT_TIMEOUT")) != NULL)
		cfg.client_timeout_s = parse_number("PREFACTOR_GATEWAY_CLIENT_TIMEOUT", v, 1, 3600, false);
	if ((v = getenv("PREFACTOR_GATEWAY_MAX_CONNECTIONS")) != NULL)
		cfg.max_connections = parse_number("PREFACTOR_GATEWAY_MAX_CONNECTIONS", v, 1, 100000, false);
	if ((v = getenv("PREFACTOR_GATEWAY_TLS_CERT")) != NULL && *v)
		cfg.tls_cert = v;
	if ((v = getenv("PREFACTOR_GATEWAY_TLS_KEY")) != NULL && *v)
		cfg.tls_key = v;
	if ((v = getenv("PREFACTOR_GATEWAY_USER")) != NULL && *v)
		cfg.user = v;
	if ((v = getenv("PREFACTOR_GATEWAY_ACCESS_LOG")) != NULL)
		cfg.access_log = parse_onoff("PREFACTOR_GATEWAY_ACCESS_LOG", v);
	if ((v = getenv("PREFACTOR_GATEWAY_TOKEN_CACHE_SIZE")) != NULL)
		cfg.token_cache_size = parse_number("PREFACTOR_GATEWAY_TOKEN_CACHE_SIZE", v, 0, 1000000, false);
	if ((v = getenv("PREFACTOR_GATEWAY_TOKEN_CACHE_TTL")) != NULL)
		cfg.token_cache_ttl_s = parse_number("PREFACTOR_GATEWAY_TOKEN_CACHE_TTL", v, 1, 86400, false);
	if ((v = getenv("PREFACTOR_GATEWAY_ROUTE_BY_NODE")) != NULL)
		cfg.route_by_node = parse_onoff("PREFACTOR_GATEWAY_ROUTE_BY_NODE", v);

	while ((opt = getopt_long(argc, argv, "d:l:p:n:b:t:c:m:u:hV", options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				cfg.conninfo = optarg;
				break;
			case 'l':
				cfg.listen_address = optarg;
				break;
			case 'p':
				cfg.port = parse_number("--port", optarg, 1, 65535, false);
				break;
			case 'n':
				cfg.pool_size = parse_number("--pool-size", optarg, 1, 1000, false);
				break;
			case 'b':
				cfg.max_body = parse_number("--max-body", optarg, 1, 256L * 1048576, true);
				break;
			case 't':
				cfg.request_timeout_ms = parse_number("--request-timeout", optarg, 1, 3600000, false);
				break;
			case 'c':
				cfg.client_timeout_s = parse_number("--client-timeout", optarg, 1, 3600, false);
				break;
			case 'm':
				cfg.max_connections = parse_number("--max-connections", optarg, 1, 100000, false);
				break;
			case OPT_TLS_CERT:
				cfg.tls_cert = optarg;
				break;
			case OPT_TLS_KEY:
				cfg.tls_key = optarg;
				break;
			case 'u':
				cfg.user = optarg;
				break;
			case OPT_NO_ACCESS_LOG:
				cfg.access_log = false;
				break;
			case OPT_TOKEN_CACHE_SIZE:
				cfg.token_cache_size = parse_number("--token-cache-size", optarg, 0, 1000000, false);
				break;
			case OPT_TOKEN_CACHE_TTL:
				cfg.token_cache_ttl_s = parse_number("--token-cache-ttl", optarg, 1, 86400, false);
				break;
			case OPT_ROUTE_BY_NODE:
				cfg.route_by_node = true;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			case 'V':
				printf("prefactor-gateway %s (libmicrohttpd %s)\n", GATEWAY_VERSION, MHD_get_version());
				exit(0);
			default:
				fprintf(stderr, "Try \"prefactor-gateway --help\".\n");
				exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (try --help)", argv[optind]);
	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
		die("--tls-cert and --tls-key go together");
}

/* ------------------------------------------------------------------------
 * Routes
 * ------------------------------------------------------------------------ */
typedef enum route
{
	ROUTE_NONE,
	ROUTE_HEALTH,
	ROUTE_REGISTER,
	ROUTE_START,
	ROUTE_FINISH,
	ROUTE_CREATE_SPAN,
	ROUTE_FINISH_SPAN,
	ROUTE_OTLP_TRACES
} route;

/* Prepared on every pooled connection; the first ones indexed by route. */
static const pool_statement statements[] = {
	{"health", "SELECT 1", 0},
	{"sdk_register", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_register($1, $2::jsonb) a", 2},
	{"sdk_start", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_start($1, $2, $3::jsonb) a", 3},
	{"sdk_finish", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_finish($1, $2, $3::jsonb) a", 3},
	{"sdk_create_span", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_create_span($1, $2::jsonb) a", 2},
	{"sdk_finish_span", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_finish_span($1, $2, $3::jsonb) a", 3},
	/* by account: in FROM, the one form Citus delegates to the account's worker */
	{"token_account", "SELECT prefactor.prefactor_token_account($1)", 1},
	{"sdk_call", "SELECT a.http_status, a.body::text FROM prefactor.prefactor_sdk_call($1::prefactor.pfid, $2, $3, $4, $5::jsonb) a", 5},
	/* last: prepared only with --route-by-node */
	{NODE_ROUTE_STATEMENT_NAME, NODE_ROUTE_STATEMENT_SQL, 1},
};
#define NSTATEMENTS ((int) (sizeof(statements) / sizeof(statements[0])) - (cfg.route_by_node ? 0 : 1))

/* The configured database's connections. */
static gw_pool *db_pool;

/*
 * OTLP export by token alone (a token without an account): not prepared,
 * since its function comes with another part of the extension and may be
 * missing from the installed version (answered 501).
 */
static const char otlp_sql[] =
	"SELECT a.http_status, a.body::text FROM prefactor.prefactor_otlp_export($1, $2::jsonb) a";

#define MAX_ID_LENGTH 128

/* The route of a path, its id segment (if any) into id; ROUTE_NONE if unknown. */
static route
match_route(const char *url, char *id)
{
	static const char instance_prefix[] = "/api/v1/agent_instance/";
	static const char span_prefix[] = "/api/v1/agent_spans/";
	const char *rest;
	const char *slash;
	bool		span;

	id[0] = '\0';
	if (strcmp(url, "/healthz") == 0)
		return ROUTE_HEALTH;
	if (strcmp(url, "/v1/traces") == 0)
		return ROUTE_OTLP_TRACES;
	if (strcmp(url, "/api/v1/agent_spans") == 0)
		return ROUTE_CREATE_SPAN;
	if (strcmp(url, "/api/v1/agent_instance/register") == 0)
		return ROUTE_REGISTER;
	if (strncmp(url, instance_prefix, sizeof(instance_prefix) - 1) == 0)
	{
		span = false;
		rest = url + sizeof(instance_prefix) - 1;
	}
	else if (strncmp(url, span_prefix, sizeof(span_prefix) - 1) == 0)
	{
		span = true;
		rest = url + sizeof(span_prefix) - 1;
	}
	else
		return ROUTE_NONE;
	/* {id}/start or {id}/finish: the id is one non-empty segment */
	slash = strchr(rest, '/');
	if (slash == NULL || slash == rest || slash - rest > MAX_ID_LENGTH)
		return ROUTE_NONE;
	memcpy(id, rest, slash - rest);
	id[slash - rest] = '\0';
	if (strcmp(slash, "/finish") == 0)
		return span ? ROUTE_FINISH_SPAN : ROUTE_FINISH;
	if (!span && strcmp(slash, "/start") == 0)
		return ROUTE_START;
	return ROUTE_NONE;
}

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------ */
typedef struct request
{
	route		route;
	char		id[MAX_ID_LENGTH + 1];
	char		method[8];
	char		path[160];		/* for the log line */
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	struct timespec started;
	int			status;			/* answered status, 0 until answered */
	bool		answered;
	bool		gzip;			/* Content-Encoding: gzip */
	bool		protobuf;		/* OTLP as protobuf: decoded to JSON, answered in protobuf */
} request;

static volatile sig_atomic_t stopping;
static pthread_mutex_t inflight_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static int	inflight;

static double
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000.0 + (now.tv_nsec - since->tv_nsec) / 1e6;
}

static enum MHD_Result
answer(struct MHD_Connection *connection, request *req, int status, const char *body, const char *allow)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	uint8_t    *proto;
	size_t		proto_len;

	/* a protobuf client reads its answer, and any error, as protobuf */
	if (req != NULL && req->protobuf && otlp_proto_answer(status, body, &proto, &proto_len) == 0)
	{
		response = MHD_create_response_from_buffer(proto_len, proto, MHD_RESPMEM_MUST_FREE);
		if (response == NULL)
			free(proto);
	}
	else
	{
		proto = NULL;
		response = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
	}
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
							proto ? "application/x-protobuf" : "application/json");
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 401)
		MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (allow != NULL)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
	if (stopping)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	if (req != NULL)
	{
		req->status = status;
		req->answered = true;
	}
	return ret;
}

/* A short JSON error in the SDK's envelope; code and message are constants. */
static enum MHD_Result
answer_error(struct MHD_Connection *connection, request *req, int status, const char *code,
			 const char *message, const char *allow)
{
	char		body[512];

	snprintf(body, sizeof(body), "{\"status\": \"error\", \"code\": \"%s\", \"message\": \"%s\"}",
			 code, message);
	return answer(connection, req, status, body, allow);
}

/* A header's value less its parameters (;...) and surrounding blanks: its start, and *len; NULL for none. */
static const char *
header_token(const char *value, size_t *len)
{
	const char *end;

	if (value == NULL)
		return NULL;
	while (*value == ' ' || *value == '\t')
		value++;
	end = strchr(value, ';');
	*len = end ? (size_t) (end - value) : strlen(value);
	while (*len > 0 && (value[*len - 1] == ' ' || value[*len - 1] == '\t'))
		(*len)--;
	return value;
}

/* Whether a Content-Type is JSON: application/json or application/<x>+json, any parameters. */
static bool
is_json_content_type(const char *ct)
{
	size_t		len;

	ct = header_token(ct, &len);
	if (ct == NULL)
		return false;
	if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return len > 17 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + len - 5, "+json", 5) == 0;
}

/* Whether a header's value, less parameters and blanks, is the given token (any case). */
static bool
header_is(const char *value, const char *token)
{
	size_t		len;

	value = header_token(value, &len);
	return value != NULL && len == strlen(token) && strncasecmp(value, token, len) == 0;
}

/*
 * The format of a POST's body from its Content-Type (JSON; for OTLP also
 * protobuf) and Content-Encoding (none, identity or gzip) into req; NULL if
 * taken, else why not (answered 415).
 */
static const char *
body_format(struct MHD_Connection *connection, request *req)
{
	const char *type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *encoding = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
													   MHD_HTTP_HEADER_CONTENT_ENCODING);

	if (req->route == ROUTE_OTLP_TRACES && header_is(type, "application/x-protobuf"))
		req->protobuf = true;
	else if (!is_json_content_type(type))
		return req->route == ROUTE_OTLP_TRACES
			? "send OTLP as JSON (Content-Type: application/json) or protobuf (application/x-protobuf)"
			: "send the body as JSON (Content-Type: application/json)";
	if (header_is(encoding, "gzip") || header_is(encoding, "x-gzip"))
		req->gzip = true;
	else if (encoding != NULL && !header_is(encoding, "identity") && !header_is(encoding, ""))
		return "the body must be sent uncompressed or with Content-Encoding: gzip";
	return NULL;
}

/*
 * The body of a request as its SQL call takes it: inflated when gzip (at
 * most --max-body inflated), an OTLP protobuf request decoded to OTLP/JSON
 * (at most 8 times --max-body); JSON without NUL bytes. False with the
 * answer queued (into *ret) when it is refused.
 */
#define PROTOBUF_JSON_FACTOR 8

static bool
prepare_body(struct MHD_Connection *connection, request *req, enum MHD_Result *ret)
{
	char	   *decoded;
	size_t		decoded_len;

	if (req->gzip && req->body_len > 0)
	{
		switch (gunzip(req->body, req->body_len, (size_t) cfg.max_body, &decoded, &decoded_len))
		{
			case GUNZIP_OK:
				free(req->body);
				req->body = decoded;
				req->body_len = decoded_len;
				req->body_cap = decoded_len + 1;
				break;
			case GUNZIP_TOO_LARGE:
				*ret = answer_error(connection, req, 413, "payload_too_large",
									"the request body is too large once inflated", NULL);
				return false;
			case GUNZIP_NO_MEMORY:
				*ret = answer_error(connection, req, 503, "unavailable", "out of memory; retry", NULL);
				return false;
			default:
				*ret = answer_error(connection, req, 400, "bad_request",
									"the request body is not valid gzip (Content-Encoding: gzip)", NULL);
				return false;
		}
	}
	if (req->protobuf)
	{
		char		err[200];
		char		message[320];

		switch (otlp_proto_request_to_json((const uint8_t *) req->body, req->body_len,
										   (size_t) cfg.max_body * PROTOBUF_JSON_FACTOR, &decoded, &decoded_len,
										   err, sizeof(err)))
		{
			case OTLP_PROTO_OK:
				free(req->body);
				req->body = decoded;
				req->body_len = decoded_len;
				req->body_cap = decoded_len + 1;
				return true;
			case OTLP_PROTO_TOO_LARGE:
				*ret = answer_error(connection, req, 413, "payload_too_large",
									"the request is too large once decoded to JSON", NULL);
				return false;
			case OTLP_PROTO_NO_MEMORY:
				*ret = answer_error(connection, req, 503, "unavailable", "out of memory; retry", NULL);
				return false;
			default:
				/* err names messages and fields only, never the body's content */
				snprintf(message, sizeof(message), "the request body is not a valid OTLP protobuf "
						 "ExportTraceServiceRequest: %s", err);
				*ret = answer_error(connection, req, 400, "bad_request", message, NULL);
				return false;
		}
	}
	if (req->body_len > 0 && memchr(req->body, '\0', req->body_len) != NULL)
	{
		*ret = answer_error(connection, req, 400, "bad_request", "the request body is not valid JSON", NULL);
		return false;
	}
	return true;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *
bearer_token(struct MHD_Connection *connection)
{
	const char *h = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	return *h ? h : NULL;
}

/* The SQLSTATE of a failed result ("" if none). */
static const char *
sqlstate_of(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

/* The operation of a route by token, as prefactor_sdk_call names it. */
static const char *const sdk_operations[] = {
	[ROUTE_REGISTER] = "register",
	[ROUTE_START] = "start",
	[ROUTE_FINISH] = "finish",
	[ROUTE_CREATE_SPAN] = "create_span",
	[ROUTE_FINISH_SPAN] = "finish_span",
	[ROUTE_OTLP_TRACES] = "otlp_export",
};

/*
 * The account of a token (kept in the token cache, else looked up on conn)
 * into account, "" when it has none (no token, or one unknown, wrong,
 * revoked or expired: not kept, so a token made valid later is seen at
 * once). NULL, or the result of the lookup if that failed.
 */
static PGresult *
token_account(PGconn *conn, const char *token, char account[TOKEN_CACHE_ACCOUNT_SIZE])
{
	PGresult   *res;

	account[0] = '\0';
	if (token == NULL || token_cache_get(token, account))
		return NULL;
	res = PQexecPrepared(conn, "token_account", 1, &token, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1)
		return res;
	if (!PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) < TOKEN_CACHE_ACCOUNT_SIZE)
	{
		memcpy(account, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0) + 1);
		token_cache_put(token, account);
	}
	PQclear(res);
	return NULL;
}

/*
 * The SQL call of an SDK route or an OTLP export: by the token's account
 * ("" for none), else by the token alone, whose answer is then the
 * client's: a token without an account is answered by the function by token
 * as ever, and so is one whose call by account was refused with 401 (revoked
 * or expired since its account was kept; it is forgotten).
 */
static PGresult *
call_sdk(PGconn *conn, request *req, const char *token, const char *account)
{
	const char *params[5];
	int			nparams = 0;
	bool		has_id = req->route == ROUTE_START || req->route == ROUTE_FINISH || req->route == ROUTE_FINISH_SPAN;
	/* an empty body is NULL, which the functions read as {} */
	const char *body = req->body_len > 0 ? req->body : NULL;
	PGresult   *res;

	if (account[0] != '\0')
	{
		params[0] = account;
		params[1] = sdk_operations[req->route];
		params[2] = token;
		params[3] = has_id ? req->id : NULL;
		params[4] = body;
		res = PQexecPrepared(conn, "sdk_call", 5, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 1 ||
			strcmp(PQgetvalue(res, 0, 0), "401") != 0)
			return res;
		token_cache_drop(token);
		PQclear(res);
	}
	params[nparams++] = token;
	if (has_id)
		params[nparams++] = req->id;
	params[nparams++] = body;
	if (req->route == ROUTE_OTLP_TRACES)
		return PQexecParams(conn, otlp_sql, nparams, NULL, params, NULL, NULL, 0);
	return PQexecPrepared(conn, statements[req->route - ROUTE_HEALTH].name, nparams, params, NULL, NULL, 0);
}

/*
 * With --route-by-node, the slot of a call by account: one of its node's
 * pool if it has a node and a connection there becomes free in time (the
 * configured database's slot, held for the lookups, is given back then),
 * else the configured database's.
 */
static pool_slot *
route_to_node(pool_slot *slot, const char *account)
{
	gw_pool    *node;
	pool_slot  *there;
	bool		unreachable;

	if (!cfg.route_by_node || account[0] == '\0' ||
		(node = node_route_pool(slot->conn, account)) == NULL)
		return slot;
	there = pool_acquire(node, cfg.request_timeout_ms, &unreachable);
	if (there == NULL)
	{
		if (unreachable)
			node_route_unreachable(node);
		return slot;
	}
	pool_release(slot, PQstatus(slot->conn) != CONNECTION_OK);
	return there;
}

/* Runs the one SQL call of a request and answers what it answered. */
static enum MHD_Result
call_database(struct MHD_Connection *connection, request *req)
{
	bool		unreachable;
	bool		broken = false;
	pool_slot  *slot;
	PGresult   *res;
	enum MHD_Result ret;
	const char *state;

	slot = pool_acquire(db_pool, cfg.request_timeout_ms, &unreachable);
	if (slot == NULL)
		return unreachable
			? answer_error(connection, req, 503, "unavailable", "the database cannot be reached", NULL)
			: answer_error(connection, req, 503, "busy", "no database connection became free in time", NULL);

	if (req->route == ROUTE_HEALTH)
		res = PQexecPrepared(slot->conn, "health", 0, NULL, NULL, NULL, 0);
	else
	{
		const char *token = bearer_token(connection);
		char		account[TOKEN_CACHE_ACCOUNT_SIZE];

		res = token_account(slot->conn, token, account);
		if (res == NULL)
		{
			slot = route_to_node(slot, account);
			res = call_sdk(slot->conn, req, token, account);
		}
	}

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 1)
	{
		if (req->route == ROUTE_HEALTH)
			ret = answer(connection, req, 200, "{\"status\": \"ok\"}", NULL);
		else
		{
			int			status = atoi(PQgetvalue(res, 0, 0));

			if (status < 100 || status > 599 || PQnfields(res) != 2 || PQgetisnull(res, 0, 1))
			{
				gw_log("%s %.120s: the SQL function answered no status or body", req->method, req->path);
				ret = answer_error(connection, req, 500, "internal_error", "internal error", NULL);
			}
			else
				ret = answer(connection, req, status, PQgetvalue(res, 0, 1), NULL);
		}
		PQclear(res);
		pool_release(slot, false);
		return ret;
	}

	/* an error: by SQLSTATE only, never its text (it may quote the body) */
	state = sqlstate_of(res);
	if (PQstatus(slot->conn) != CONNECTION_OK)
		broken = true;
	if (broken)
	{
		gw_log("%s %.120s: the database connection failed during the call", req->method, req->path);
		ret = answer_error(connection, req, 503, "unavailable", "the database connection failed; retry", NULL);
	}
	else if (req->route == ROUTE_HEALTH)
		ret = answer_error(connection, req, 503, "unavailable", "the database does not answer", NULL);
	else if (strcmp(state, "57014") == 0)
		ret = answer_error(connection, req, 504, "timeout", "the call took too long", NULL);
	else if (req->route == ROUTE_OTLP_TRACES && (strcmp(state, "42883") == 0 || strcmp(state, "3F000") == 0))
		ret = answer_error(connection, req, 501, "not_implemented",
						   "OTLP export is not available in this version of prefactor", NULL);
	else if (strncmp(state, "22", 2) == 0)
		/* the body was refused as jsonb (22P02, 22P05) before any function ran */
		ret = answer_error(connection, req, 400, "bad_request", "the request body is not valid JSON", NULL);
	else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
		ret = answer_error(connection, req, 503, "retry", "a concurrent call conflicted; retry", NULL);
	else
	{
		gw_log("%s %.120s: SQL error SQLSTATE %s", req->method, req->path, state[0] ? state : "none");
		ret = answer_error(connection, req, 500, "internal_error", "internal error", NULL);
	}
	PQclear(res);
	pool_release(slot, broken);
	return ret;
}

static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
			   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	request    *req = *con_cls;
	enum MHD_Result ret;

	(void) cls;
	(void) version;
	if (req == NULL)
	{
		/* headers are in: route, and refuse what needs no body to refuse */
		const char *length;
		const char *refused;
		bool		is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
		bool		is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

		req = calloc(1, sizeof(request));
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		clock_gettime(CLOCK_MONOTONIC, &req->started);
		snprintf(req->method, sizeof(req->method), "%s", method);
		snprintf(req->path, sizeof(req->path), "%s", url);
		for (char *p = req->path; *p; p++)
			if (!isprint((unsigned char) *p))
				*p = '?';
		pthread_mutex_lock(&inflight_mutex);
		inflight++;
		pthread_mutex_unlock(&inflight_mutex);

		req->route = match_route(url, req->id);
		if (req->route == ROUTE_NONE)
			return answer_error(connection, req, 404, "not_found", "no such path", NULL);
		if (req->route == ROUTE_HEALTH)
			return is_get ? call_database(connection, req)
				: answer_error(connection, req, 405, "method_not_allowed", "use GET", "GET");
		if (!is_post)
			return answer_error(connection, req, 405, "method_not_allowed", "use POST", "POST");
		if ((refused = body_format(connection, req)) != NULL)
			return answer_error(connection, req, 415, "unsupported_media_type", refused, NULL);
		length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length != NULL && strtoull(length, NULL, 10) > (unsigned long long) cfg.max_body)
			return answer_error(connection, req, 413, "payload_too_large", "the request body is too large", NULL);
		return MHD_YES;
	}

	if (*upload_data_size > 0)
	{
		/* a part of the body */
		size_t		n = *upload_data_size;

		if (req->body_len + n > (size_t) cfg.max_body)
		{
			/* a chunked body over the limit: no answer can be queued now; close */
			req->status = 413;
			return MHD_NO;
		}
		if (elapsed_ms(&req->started) > cfg.request_timeout_ms)
		{
			/* a body trickling in for longer than a request may take */
			req->status = 408;
			return MHD_NO;
		}
		if (!bounded_append(&req->body, &req->body_len, &req->body_cap, 4096, (size_t) cfg.max_body,
							upload_data, n))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (req->answered)
		return MHD_YES;
	/* the whole body is in */
	if (!prepare_body(connection, req, &ret))
		return ret;
	if (elapsed_ms(&req->started) > cfg.request_timeout_ms)
		return answer_error(connection, req, 408, "request_timeout", "the request body took too long to arrive",
							NULL);
	return call_database(connection, req);
}

static void
request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	request    *req = *con_cls;

	(void) cls;
	(void) connection;
	if (req == NULL)
		return;
	if (cfg.access_log)
	{
		if (req->answered && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
			gw_log("%s %.120s %d %.1f ms", req->method, req->path, req->status, elapsed_ms(&req->started));
		else
			gw_log("%s %.120s %d %.1f ms (connection closed%s)", req->method, req->path,
				   req->status ? req->status : 0, elapsed_ms(&req->started),
				   toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? ": client timeout"
				   : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? " by the client"
				   : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? ": shutting down" : "");
	}
	free(req->body);
	free(req);
	*con_cls = NULL;
	pthread_mutex_lock(&inflight_mutex);
	inflight--;
	pthread_cond_broadcast(&inflight_cond);
	pthread_mutex_unlock(&inflight_mutex);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		line[512];

	(void) cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	gw_log("http: %s", line);
}

/* ------------------------------------------------------------------------
 * Start-up
 * ------------------------------------------------------------------------ */
static char *
read_file(const char *path, const char *what)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		len;

	if (f == NULL)
		die("cannot open %s %s: %s", what, path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > 1048576 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot read %s %s (at most 1 MiB)", what, path);
	buf = malloc(len + 1);
	if (buf == NULL || fread(buf, 1, len, f) != (size_t) len)
		die("cannot read %s %s", what, path);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Binds the listening socket (before privileges are dropped). */
static int
listen_socket(bool *ipv6)
{
	struct addrinfo hints = {0};
	struct addrinfo *ai;
	char		port[16];
	int			fd;
	int			on = 1;
	int			rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg.port);
	rc = getaddrinfo(cfg.listen_address, port, &hints, &ai);
	if (rc != 0)
		die("cannot resolve listen address \"%s\": %s", cfg.listen_address, gai_strerror(rc));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		die("cannot make a socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("cannot listen on %s port %d: %s", cfg.listen_address, cfg.port, strerror(errno));
	if (listen(fd, 128) != 0)
		die("cannot listen on %s port %d: %s", cfg.listen_address, cfg.port, strerror(errno));
	*ipv6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return fd;
}

/* Never as root: drop to --user, or refuse. */
static void
drop_privileges(void)
{
	struct passwd *pw;

	if (geteuid() != 0 && getuid() != 0)
	{
		if (cfg.user != NULL)
			gw_log("--user %s ignored: not started as root", cfg.user);
		return;
	}
	if (cfg.user == NULL)
		die("refusing to run as root: start it as an unprivileged user, or give --user=NAME to run as "
			"once the port is bound");
	pw = getpwnam(cfg.user);
	if (pw == NULL)
		die("no such user \"%s\" (--user)", cfg.user);
	if (pw->pw_uid == 0)
		die("--user must name an unprivileged user, not \"%s\"", cfg.user);
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		die("cannot switch to user \"%s\": %s", cfg.user, strerror(errno));
	if (setuid(0) == 0)
		die("could not drop root privileges");
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	unsigned int flags;
	sigset_t	signals;
	int			sig;
	int			fd;
	bool		ipv6;
	char	   *cert = NULL;
	char	   *key = NULL;
	struct timespec deadline;
	int			left;

	read_config(argc, argv);
	if (geteuid() == 0 && cfg.user == NULL)
		die("refusing to run as root: start it as an unprivileged user, or give --user=NAME to run as "
			"once the port is bound");
	if (cfg.tls_cert != NULL)
	{
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			die("this libmicrohttpd has no TLS support; serve plain HTTP behind a TLS proxy instead");
		cert = read_file(cfg.tls_cert, "TLS certificate");
		key = read_file(cfg.tls_key, "TLS key");
	}
	fd = listen_socket(&ipv6);
	drop_privileges();

	/* SIGTERM and SIGINT are taken by sigwait below; every thread inherits the mask */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	db_pool = pool_create(cfg.conninfo, NULL, NULL, cfg.pool_size, cfg.request_timeout_ms, statements, NSTATEMENTS);
	if (db_pool == NULL || !token_cache_init(cfg.token_cache_size, cfg.token_cache_ttl_s) ||
		(cfg.route_by_node && !node_route_init(cfg.conninfo, cfg.pool_size, cfg.request_timeout_ms,
											   statements, NSTATEMENTS, cfg.token_cache_ttl_s)))
		die("out of memory");

	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	if (cert != NULL)
		flags |= MHD_USE_TLS;
	left = pool_warm(db_pool);
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle_request, NULL,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							  MHD_OPTION_LISTEN_SOCKET, fd,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg.client_timeout_s,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) cfg.max_connections,
							  MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
							  MHD_OPTION_THREAD_STACK_SIZE, (size_t) (512 * 1024),
							  cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
							  MHD_OPTION_HTTPS_MEM_KEY, key,
							  MHD_OPTION_END);
	if (daemon == NULL)
		die("cannot start the HTTP server on %s port %d", cfg.listen_address, cfg.port);
	gw_log("listening on %s port %d (%s), %d of %d database connections up, body limit %ld bytes",
		   cfg.listen_address, cfg.port, cert ? "https" : "http", left, cfg.pool_size, cfg.max_body);

	do
	{
		if (sigwait(&signals, &sig) != 0)
			sig = 0;
	} while (sig != SIGTERM && sig != SIGINT);

	/* stop accepting; answer what is in flight, within one request timeout */
	stopping = 1;
	gw_log("%s: stopping; answering the requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	fd = MHD_quiesce_daemon(daemon);
	if (fd >= 0)
		close(fd);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += cfg.request_timeout_ms / 1000 + 2;
	pthread_mutex_lock(&inflight_mutex);
	while (inflight > 0 && pthread_cond_timedwait(&inflight_cond, &inflight_mutex, &deadline) != ETIMEDOUT)
		;
	left = inflight;
	pthread_mutex_unlock(&inflight_mutex);
	if (left > 0)
		gw_log("%d requests still in flight at the deadline; closing them", left);
	MHD_stop_daemon(daemon);
	if (cfg.route_by_node)
		node_route_close();
	pool_destroy(db_pool);
	token_cache_close();
	free(cert);
	free(key);
	gw_log("stopped");
	return 0;
}
