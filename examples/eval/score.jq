# Score the answers ($a, vmanjl records) against the questions ($q): an
# answer is right when its text contains the expected answer, ignoring
# case.  The result depends on nothing but the two files.
($a | map(select(.type == "response")) | map({(.custom_id): .content})
    | add // {}) as $got
| [$q[] | . as $x | {id, right: (($got[$x.id] // "") | ascii_downcase
    | contains($x.answer | ascii_downcase))}] as $r
| {questions: ($r | length),
   right: ($r | map(select(.right)) | length),
   wrong: [$r[] | select(.right | not) | .id]}
