/*
 * OTLP/HTTP protobuf for prefactor-gateway: an ExportTraceServiceRequest in
 * protobuf wire format as the OTLP/JSON text that prefactor_otlp_export
 * takes, and its JSON answers as the protobuf messages a protobuf client
 * reads (ExportTraceServiceResponse, google.rpc.Status).
 *
 * Pure C (no PostgreSQL, no libmicrohttpd): a hand-written decoder for the
 * fixed set of messages of opentelemetry/proto/collector/trace/v1 and
 * trace/v1, common/v1, resource/v1. Every length is checked against the
 * buffer, nesting is limited, unknown fields are skipped by wire type,
 * groups (wire types 3 and 4) are refused, strings must be UTF-8 without
 * NUL (PostgreSQL's jsonb cannot hold \u0000). The JSON follows the OTLP
 * JSON mapping: lowerCamelCase keys, trace and span ids as lower-case hex,
 * enums as integers, 64-bit integers as decimal strings, bytes as base64.
 */
#ifndef PREFACTOR_GATEWAY_OTLP_PROTO_H
#define PREFACTOR_GATEWAY_OTLP_PROTO_H

#include <stddef.h>
#include <stdint.h>

typedef enum otlp_proto_result
{
	OTLP_PROTO_OK = 0,
	OTLP_PROTO_INVALID,			/* not a valid ExportTraceServiceRequest: 400 */
	OTLP_PROTO_TOO_LARGE,		/* its JSON would exceed max_json: 413 */
	OTLP_PROTO_NO_MEMORY
} otlp_proto_result;

/* Nesting of messages at most this deep (an AnyValue in an AnyValue ...). */
#define OTLP_PROTO_MAX_DEPTH 64

/*
 * The OTLP/JSON text of an ExportTraceServiceRequest in protobuf wire format:
 * *json (NUL-terminated, malloc'd, the caller frees it) and *json_len on
 * success; NULL otherwise. At most max_json bytes of JSON. On failure, err
 * (errlen bytes) says why in a short sentence naming the message and field,
 * never quoting the input.
 */
otlp_proto_result otlp_proto_request_to_json(const uint8_t *buf, size_t len, size_t max_json,
											 char **json, size_t *json_len, char *err, size_t errlen);

/*
 * The protobuf answer to a protobuf client of the JSON answer of
 * prefactor_otlp_export (or of the gateway's own error envelope), for HTTP
 * status http_status: for 2xx, an ExportTraceServiceResponse (from
 * {"partialSuccess": {"rejectedSpans", "errorMessage"}}; {} is the empty
 * message); otherwise a google.rpc.Status {code, message} (a numeric "code"
 * of the JSON as is, else the gRPC code of the HTTP status). *out is
 * malloc'd (the caller frees it; not NULL even when *out_len is 0). 0 on
 * success, -1 when out of memory.
 */
int			otlp_proto_answer(int http_status, const char *json, uint8_t **out, size_t *out_len);

/* The gRPC status code (google.rpc.Code) for an HTTP status, as OTLP maps them. */
int			otlp_proto_rpc_code(int http_status);

#endif
