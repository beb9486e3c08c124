#!/bin/sh
# The main job: placeholder until xenmig-lab lands; it reports what is there.
set -eu
cd "$(dirname "$0")/.."
echo "xenmig built in build/; the lab demo arrives with tools/lab."
