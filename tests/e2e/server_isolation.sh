#!/usr/bin/env bash
# Proves: every job, session, message and export belongs to its user: another user's ids
# answer 404 (never 403, so ids cannot be probed) on every resource, lists and search show
# only the caller's own records.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
A=$(mkuser alice)
B=$(mkuser bob)
srv_start
req "$A" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav"; expect 202
JOB=$(jget "d['id']")
req "$A" POST /v1/sessions -d '{"title":"private","type":"chat"}'; expect 201
SES=$(jget "d['id']")
req "$A" POST "/v1/sessions/$SES/messages" -d '{"content":"the secret password is marmalade"}'; expect 201
wait_job "$A" "$JOB" COMPLETE
JSES=$(jget "d['session_id']")
for path in "/v1/jobs/$JOB" "/v1/sessions/$SES" "/v1/sessions/$SES/messages" "/v1/sessions/$SES/stats" \
            "/v1/sessions/$SES/export?format=txt" "/v1/sessions/$JSES" "/v1/sessions/$JSES/messages"; do
  req "$B" GET "$path"; error_shape 404
done
req "$B" POST "/v1/sessions/$SES/messages" -d '{"content":"intruder"}'; error_shape 404
req "$B" POST "/v1/sessions/$SES/end"; error_shape 404
req "$B" DELETE "/v1/sessions/$SES"; error_shape 404
req "$B" DELETE "/v1/jobs/$JOB"; error_shape 404
req "$B" GET "/v1/jobs"; expect 200; jcheck "d['total'] == 0 and d['data'] == []" "bob's job list"
req "$B" GET "/v1/sessions"; expect 200; jcheck "d['total'] == 0" "bob's session list"
req "$B" GET "/v1/search?q=marmalade"; expect 200; jcheck "d['data'] == []" "bob's search"
# alice still has everything, untouched by bob's attempts
req "$A" GET "/v1/jobs/$JOB"; expect 200
req "$A" GET "/v1/sessions/$SES/messages"; expect 200
jcheck "len(d['data']) == 1 and d['data'][0]['content'] == 'the secret password is marmalade'" "alice's messages"
req "$A" GET "/v1/search?q=marmalade"; expect 200; jcheck "len(d['data']) == 1" "alice's search"
req "$A" GET "/v1/search?q=reservation"; expect 200; jcheck "len(d['data']) == 1" "job transcript searchable"
srv_stop
echo "ok"
