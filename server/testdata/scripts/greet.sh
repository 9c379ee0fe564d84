#!/bin/sh
# Prints a line of text, then a JSON object as its last line: the step's output.
echo "greeting $1 for task $UTASK_TASK_ID"
printf '{"greeting": "hello %s", "step": "%s"}\n' "$1" "$UTASK_STEP_NAME"
