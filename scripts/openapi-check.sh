#!/usr/bin/env bash
# The OpenAPI document against the server that serves it (security.md, "Limits"):
#  1. schemathesis (pinned in .ci/run) with the checks not_a_server_error,
#     status_code_conformance, content_type_conformance, response_schema_conformance and
#     negative_data_rejection; any finding fails;
#  2. a Python client's models generated from the document (datamodel-code-generator) send
#     an event and read it back.
# Everything runs in a network namespace of its own (`unshare -n`, only loopback up), so the
# endpoint URLs the fuzzer makes up lead nowhere.
#   scripts/openapi-check.sh HERALD_BIN VENV
set -euo pipefail
bin=$(realpath "$1") venv=$(realpath "$2")
if [ "${HERALD_IN_NETNS:-}" != 1 ]; then
  exec env HERALD_IN_NETNS=1 unshare -n bash "$0" "$bin" "$venv"
fi
ip link set lo up
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
key="hrd_openapiCheck$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=18181
url="http://127.0.0.1:$port"
HERALD_ADMIN_KEY="$key" HERALD_LOG=warn "$bin" serve --listen "127.0.0.1:$port" \
  --data-dir "$work/data" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done

api() { # METHOD PATH [BODY]
  curl -sf -X "$1" "$url$2" -H "authorization: Bearer $key" -H 'content-type: application/json' \
    ${3:+--data "$3"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Real resources for the path parameters, so operations get past their 404s.
api POST /v1/apps '{"name":"schemathesis","uid":"st-app"}' >/dev/null
api POST /v1/event-types '{"name":"order.paid"}' >/dev/null
export ST_EP=$(api POST /v1/apps/st-app/endpoints '{"url":"https://receiver.invalid/hook"}' | field "['id']")
export ST_EVT=$(api POST /v1/apps/st-app/events '{"type":"order.paid","payload":{"n":1}}' | field "['id']")
export ST_DEL=$(api GET "/v1/apps/st-app/events/$ST_EVT" | field "['deliveries'][0]['id']")
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.app" = "st-app"
"path.ep" = "\${ST_EP}"
"path.evt" = "\${ST_EVT}"
"path.del" = "\${ST_DEL}"
"path.name" = "order.paid"
TOML

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection
st() {
  "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
    --checks "$checks" -H "Authorization: Bearer $key" --seed 20261206 --no-color "$@"
}
# Key revocation last, on its own: given another admin key, the fuzzer revokes the one it
# authenticates with, and every request after that is a 401.
echo "-- schemathesis: every operation but revoking a key"
st --max-examples 40 --exclude-path-regex '^/v1/keys/'
echo "-- schemathesis: revoking a key"
st --max-examples 40 --include-path-regex '^/v1/keys/'

echo "-- a client generated from the document"
# The fuzzer may have revoked the admin key (after making another) and deleted st-app: a
# fresh key (`herald recovery-key`, beside the running server) and a fresh app.
key=$("$bin" recovery-key --data-dir "$work/data" 2>/dev/null)
api POST /v1/apps '{"name":"client","uid":"client-app"}' >/dev/null
curl -sf "$url/openapi.json" >"$work/openapi.json"
"$venv/bin/datamodel-codegen" --input "$work/openapi.json" --input-file-type openapi \
  --output "$work/herald_models.py" --output-model-type pydantic_v2.BaseModel
HERALD_URL="$url" HERALD_KEY="$key" PYTHONPATH="$work" "$venv/bin/python" - <<'PY'
import os
import httpx
import herald_models as m

url, key = os.environ["HERALD_URL"], os.environ["HERALD_KEY"]
h = {"authorization": f"Bearer {key}"}
sent = m.EventIn(type="order.paid", payload={"id": 7, "total": "12.50"})
body = sent.model_dump_json(exclude_none=True, by_alias=True)
r = httpx.post(f"{url}/v1/apps/client-app/events", content=body, headers={**h, "content-type": "application/json"})
assert r.status_code == 202, r.text
accepted = m.EventAccepted.model_validate_json(r.text)
r = httpx.get(f"{url}/v1/apps/client-app/events/{accepted.id}", headers=h)
assert r.status_code == 200, r.text
stored = m.EventOut.model_validate_json(r.text)
assert stored.payload == {"id": 7, "total": "12.50"}, stored.payload
print(f"generated models sent {accepted.id} and read it back")
PY
