#!/bin/sh
# Prints the variables the step receives as a JSON object.
printf '{"UTASK_TASK_ID":"%s","UTASK_RESOLUTION_ID":"%s","UTASK_STEP_NAME":"%s","static_value":"%s","variable_value":"%s"}\n' \
  "$UTASK_TASK_ID" "$UTASK_RESOLUTION_ID" "$UTASK_STEP_NAME" "$static_value" "$variable_value"
