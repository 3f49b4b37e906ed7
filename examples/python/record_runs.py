#!/usr/bin/python3
"""Records a run through prefactor's SQL API with psycopg2 (Debian's python3-psycopg2), the way an
application would, then checks what the views show. Connects with the usual PG* variables."""
import sys

import psycopg2
import psycopg2.extras

ACCOUNT = "example-python"
SCHEMA = {
    "external_identifier": "faq-1",
    "span_type_schemas": [
        {"name": "faq:answer", "params_schema": {"type": "object", "required": ["question"]}},
        {"name": "llm", "params_schema": {"type": "object", "required": ["model", "messages"]},
         "result_schema": {"type": "object", "required": ["output"]}},
        {"name": "tool:search",
         "params_schema": {"type": "object", "required": ["query"], "additionalProperties": False},
         "data_risk": {"action_profile": {"external_communication": "allowed"},
                       "params_data_categories": {"classification": "public"}}},
    ],
}
failures = 0


def check(ok, what):
    global failures
    print(("ok - " if ok else "not ok - ") + what)
    if not ok:
        failures += 1


def one(cur, sql, *args):
    cur.execute(sql, args)
    return cur.fetchone()


def main():
    conn = psycopg2.connect("options='-c search_path=prefactor,public'")
    conn.autocommit = True  # each API call is its own transaction, as over a network
    J = psycopg2.extras.Json
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        one(cur, "SELECT prefactor.prefactor_create_account(%s)", ACCOUNT)
        one(cur, "SELECT prefactor.prefactor_create_environment(%s, %s)", ACCOUNT, "production")
        one(cur, "SELECT prefactor.prefactor_register_agent(%s, %s, %s)", ACCOUNT, "faq-bot", "Answers product questions")

        run = one(cur, """SELECT prefactor.prefactor_start_run(%s, %s, %s, %s, %s, idempotency_key => %s) AS id""",
                  ACCOUNT, "faq-bot", "production", J({"external_identifier": "v1.0.0", "name": "FAQ bot"}),
                  J(SCHEMA), "python-run-1")["id"]
        # a retried start with the same key is the same run
        again = one(cur, """SELECT prefactor.prefactor_start_run(%s, %s, %s, %s, %s, idempotency_key => %s) AS id""",
                    ACCOUNT, "faq-bot", "production", J({"external_identifier": "v1.0.0", "name": "FAQ bot"}),
                    J(SCHEMA), "python-run-1")["id"]
        check(again == run, "start_run retried with its idempotency key gives the same run")

        root = one(cur, "SELECT * FROM prefactor.prefactor_start_span(%s, %s, %s)",
                   run, "faq:answer", J({"question": "Does it run offline?"}))
        check(root["terminate"] is False, "start_span: no terminate signal")
        # deliberately "q" instead of the declared "query": a schema mismatch
        one(cur, "SELECT * FROM prefactor.prefactor_record_span(%s, %s, %s, %s, parent_span => %s)",
            run, "tool:search", J({"q": "offline mode"}), J({"hits": 2}), root["span_id"])
        one(cur, "SELECT * FROM prefactor.prefactor_record_span(%s, %s, %s, %s, parent_span => %s)",
            run, "llm", J({"model": "small-1", "messages": [{"role": "user", "content": "Does it run offline?"}]}),
            J({"output": "Yes, after the first sync."}), root["span_id"])
        one(cur, "SELECT * FROM prefactor.prefactor_finish_span(%s, 'complete', %s)",
            root["span_id"], J({"answer": "Yes, after the first sync."}))
        status = one(cur, "SELECT prefactor.prefactor_finish_run(%s, 'complete') AS s", run)["s"]
        check(status == "complete", "finish_run: complete")

        s = one(cur, "SELECT * FROM prefactor.instance_summary WHERE instance_id = %s", run)
        check(s["status"] == "complete" and s["version"] == "v1.0.0" and s["schema_version"] == 1
              and s["environment"] == "production", "instance_summary: complete, v1.0.0, schema version 1, production")
        check(s["spans"] == 3 and s["spans_complete"] == 3, "instance_summary: 3 complete spans")
        check(s["schema_mismatches"] == 1, "instance_summary: 1 schema mismatch (got %s)" % s["schema_mismatches"])

        cur.execute("SELECT * FROM prefactor.prefactor_span_timeline(%s)", (run,))
        timeline = cur.fetchall()
        check([t["depth"] for t in timeline] == [0, 1, 1], "timeline: a root and two children")
        search = [t for t in timeline if t["span_type"] == "tool:search"]
        check(len(search) == 1 and search[0]["path"] == "faq:answer > tool:search"
              and search[0]["conformance"] == "mismatch", "timeline: the search under the answer is a mismatch")

        c = one(cur, """SELECT * FROM prefactor.schema_conformance
                         WHERE account_id = prefactor.resolve_account(%s) AND span_type = 'tool:search'""", ACCOUNT)
        check(c is not None and c["spans"] == 1 and c["mismatches"] == 1, "schema_conformance: tool:search 1 of 1 mismatched")
        v = one(cur, """SELECT * FROM prefactor.version_history
                         WHERE account_id = prefactor.resolve_account(%s)""", ACCOUNT)
        check(v["version"] == "v1.0.0" and v["schema_identifier"] == "faq-1" and v["runs"] == 1,
              "version_history: v1.0.0 paired with faq-1, 1 run")
    conn.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
