#!/bin/sh
# A line of text, then the step's output as the last line.
echo "Hello world script"
echo '{"dumb_string":"Hello '"$1"'!","random_object":{"foo":"bar"}}'
