#!/bin/sh
printf '{"pwd": "%s"}\n' "$(pwd -P)"
