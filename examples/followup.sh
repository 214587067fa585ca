#!/bin/sh
# Follow-ups that need an id from an earlier answer: Midjourney actions,
# modal, fetch, image-seed and cancel; the task queries of Suno, Kling,
# Luma, Runway and CogVideoX for tasks submitted with --no-wait.  Each
# step is one vmanjl run; jq takes the ids from its records.
#
#	VMAN_BASE_URL=... VMAN_API_KEY=... sh examples/followup.sh
#
# VMANJL names the binary (default: vmanjl), POLL the poll interval.
set -eu
vmanjl=${VMANJL:-vmanjl}
poll=${POLL:-5}

run () {
	"$vmanjl" -q --poll-interval "$poll" "$@"
}

# Run the request on stdin, show its records, keep them in step.out.
step () {
	run "$@" >step.out
	cat step.out
}

# A field of the response in step.out.
get () {
	jq -r "select(.type==\"response\") | $1" step.out
}

# Midjourney: a grid, then U1 of it.
echo '{"custom_id":"grid","url":"/mj/submit/imagine","body":{"prompt":"a cat in a hat"}}' | step
grid=$(get .task.id)
u1=$(get '.task.raw.buttons[0].customId')
echo "{\"custom_id\":\"u1\",\"url\":\"/mj/submit/action\",\"body\":{\"taskId\":\"$grid\",\"customId\":\"$u1\"}}" | run
# Fetch, seed, then an inpaint that waits for its modal.
printf '%s\n' \
    "{\"custom_id\":\"fetch\",\"method\":\"GET\",\"url\":\"/mj/task/$grid/fetch\"}" \
    "{\"custom_id\":\"seed\",\"method\":\"GET\",\"url\":\"/mj/task/$grid/image-seed\"}" |
    run -k
echo "{\"custom_id\":\"inpaint\",\"url\":\"/mj/submit/action\",\"body\":{\"taskId\":\"$grid\",\"customId\":\"MJ::Inpaint::1::$grid::SOLO\"}}" |
    step --no-wait
inpaint=$(get .task.id)
echo "{\"custom_id\":\"modal\",\"url\":\"/mj/submit/modal\",\"body\":{\"taskId\":\"$inpaint\",\"prompt\":\"a red hat\",\"maskBase64\":\"data:image/png;base64,iVBORw0KGgo=\"}}" | run
# A task cancelled before it ends.
echo '{"custom_id":"late","url":"/mj/submit/imagine","body":{"prompt":"never mind"}}' |
    step --no-wait
echo "{\"custom_id\":\"cancel\",\"url\":\"/mj/task/$(get .task.id)/cancel\"}" | run

# Task queries by id ($2, a printf format), for tasks submitted ($1)
# without waiting.
query () {
	echo "$1" | step --no-wait
	echo "{\"custom_id\":\"query\",\"method\":\"GET\",\"url\":\"$(printf "$2" "$(get .task.id)")\"}" | run
}
query '{"custom_id":"suno","url":"/suno/v1/music","body":{"input":{"gpt_description_prompt":"the sea"},"mv":"chirp-v3-5"}}' '/suno/v1/music/%s'
query '{"custom_id":"suno30","url":"/suno/v1/v3.0/music","body":{"input":{"gpt_description_prompt":"the sea"},"mv":"chirp-v3-0"}}' '/suno/v1/v3.0/music/%s'
query '{"custom_id":"kling","url":"/kling/v1/videos/text2video","body":{"prompt":"a boat"}}' '/kling/v1/videos/text2video/%s'
query '{"custom_id":"luma","url":"/luma/generations","body":{"user_prompt":"a balloon"}}' '/luma/generations/%s'
query '{"custom_id":"runway","url":"/runwayml/v1/image_to_video","body":{"promptImage":"https://example.com/a.png","model":"gen3a_turbo"}}' '/runwayml/v1/tasks/%s'
query '{"custom_id":"cogvideox","url":"/cogvideox/v4/videos/generations","body":{"prompt":"a kite"}}' '/cogvideox/v4/async-result/%s'
query '{"custom_id":"flux","url":"/flux/v1/flux-dev","body":{"prompt":"a bicycle"}}' '/flux/v1/get_result?id=%s'
rm -f step.out
