#!/usr/bin/env bash
# Proves: conversation history: create a session; 20 concurrent curl appends get seq
# 1..20 with no gap or duplicate; messages list in order; list sessions with type/status
# filters and limit/offset; end; full-text search ranks the better match first and marks
# terms in snippets; export json, txt, srt, vtt; statistics; delete cascades to messages
# and search.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
srv_start
req "$K" POST /v1/sessions -d '{"type":"live","title":"standup","language":"en","targets":["nl"],"metadata":{"room":"a"}}'; expect 201
S1=$(jget "d['id']")
jcheck "d['status'] == 'active' and d['targets'] == ['nl'] and d['metadata'] == {'room': 'a'}" "session fields"
pids=()
for i in $(seq 1 20); do
  curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $K" \
    -d "{\"role\":\"user\",\"content\":\"message number $i about the budget\",\"start\":$i,\"end\":$i.5,\"confidence\":0.8,\"speaker\":1,\"speaker_name\":\"Ann\",\"translations\":{\"nl\":\"bericht $i\"}}" \
    "$URL/v1/sessions/$S1/messages" >> "$TMP/codes" &
  pids+=($!)
done
wait "${pids[@]}"
[ "$(grep -c '^201$' "$TMP/codes")" = 20 ] || fail "appends: $(sort "$TMP/codes" | uniq -c)"
req "$K" GET "/v1/sessions/$S1/messages"; expect 200
jcheck "[m['seq'] for m in d['data']] == list(range(1, 21))" "seq gap-free and ordered"
jcheck "sorted(int(m['content'].split()[2]) for m in d['data']) == list(range(1, 21))" "every message once"
jcheck "d['data'][0]['translations'] == {'nl': 'bericht ' + d['data'][0]['content'].split()[2]}" "translations"
req "$K" GET "/v1/sessions/$S1/messages?after=18"; expect 200; jcheck "[m['seq'] for m in d['data']] == [19, 20]" "after"
# a second and third session for filters
req "$K" POST /v1/sessions -d '{"type":"chat","title":"lunch"}'; expect 201; S2=$(jget "d['id']")
req "$K" POST "/v1/sessions/$S2/messages" -d '{"content":"the budget budget budget meeting is about the budget"}'; expect 201
req "$K" POST "/v1/sessions/$S2/messages" -d '{"role":"assistant","content":"pizza for lunch"}'; expect 201
req "$K" POST /v1/sessions -d '{"type":"chat"}'; expect 201; S3=$(jget "d['id']")
req "$K" POST "/v1/sessions/$S3/end"; expect 200; jcheck "d['status'] == 'ended' and d['ended_at']" "end"
req "$K" GET "/v1/sessions?type=chat"; expect 200; jcheck "d['total'] == 2" "type filter"
req "$K" GET "/v1/sessions?status=ended"; expect 200; jcheck "d['total'] == 1 and d['data'][0]['id'] == '$S3'" "status filter"
req "$K" GET "/v1/sessions?limit=2&offset=0"; expect 200; jcheck "d['total'] == 3 and len(d['data']) == 2 and d['has_more']" "page"
req "$K" GET "/v1/sessions?limit=2&offset=2"; expect 200; jcheck "len(d['data']) == 1" "page 2"
NOW=$(date +%s)
req "$K" GET "/v1/sessions?from=$((NOW + 3600))"; expect 200; jcheck "d['total'] == 0" "from filter"
req "$K" GET "/v1/sessions?to=$((NOW + 3600))&from=$((NOW - 3600))"; expect 200; jcheck "d['total'] == 3" "range filter"
req "$K" POST /v1/sessions -d '{"type":"party"}'; error_shape 400
req "$K" POST /v1/sessions -d '{"type":'; error_shape 400
req "$K" POST "/v1/sessions/$S1/messages" -d '{"role":"robot","content":"x"}'; error_shape 400
req "$K" POST "/v1/sessions/$S1/messages" -d '{"content":"x","confidence":3}'; error_shape 400
# search: ranking and snippets
req "$K" GET "/v1/search?q=budget&limit=50"; expect 200
jcheck "len(d['data']) == 21 and d['data'][0]['message']['session_id'] == '$S2'" "rank: the message saying budget four times first"
jcheck "'[budget]' in d['data'][0]['snippet'] and all('[budget]' in h['snippet'] for h in d['data'])" "snippets"
jcheck "d['data'][0]['rank'] <= d['data'][1]['rank']" "rank order"
req "$K" GET "/v1/search?q=pizza&limit=5"; expect 200; jcheck "len(d['data']) == 1 and d['data'][0]['message']['role'] == 'assistant'" "pizza"
req "$K" GET "/v1/search?q=%22number%207%22"; expect 200; jcheck "len(d['data']) == 1" "phrase"
req "$K" GET "/v1/search?q=budget%20OR%20NEAR(%29*"; expect 200
req "$K" GET "/v1/search"; error_shape 400
# export
req "$K" GET "/v1/sessions/$S1/export?format=json"; expect 200
jcheck "d['session']['id'] == '$S1' and len(d['messages']) == 20 and len(d['transcript']['segments']) == 20" "export json"
req "$K" GET "/v1/sessions/$S1/export?format=txt"; expect 200
[ "$(grep -c 'budget' "$TMP/body")" -ge 1 ] && grep -q 'message number 20' "$TMP/body" || fail "export txt: $(cat "$TMP/body")"
req "$K" GET "/v1/sessions/$S1/export?format=srt"; expect 200
grep -q '^00:00:01,000 --> 00:00:01,500$' "$TMP/body" || fail "export srt: $(head "$TMP/body")"
req "$K" GET "/v1/sessions/$S2/export?format=vtt"; expect 200
head -1 "$TMP/body" | grep -qx WEBVTT || fail "export vtt"
grep -Eq '^00:00:00\.000 --> ' "$TMP/body" || fail "untimed messages laid out: $(cat "$TMP/body")"
req "$K" GET "/v1/sessions/$S1/export?format=pdf"; error_shape 400
# stats
req "$K" GET "/v1/sessions/$S1/stats"; expect 200
jcheck "d['messages'] == 20 and d['words'] == 120 and abs(d['duration_s'] - 19.5) < 0.01 and abs(d['avg_confidence'] - 0.8) < 1e-6" "stats"
# delete cascades
req "$K" DELETE "/v1/sessions/$S1"; expect 200
req "$K" GET "/v1/sessions/$S1"; error_shape 404
req "$K" GET "/v1/sessions/$S1/messages"; error_shape 404
req "$K" GET "/v1/search?q=budget"; expect 200; jcheck "len(d['data']) == 1" "search after delete"
srv_stop
echo "ok"
