#!/usr/bin/env bash
# Prints the first TCP port on 127.0.0.1, from START up, that nothing listens on. Usage: free-port.sh START
port=${1:?usage: free-port.sh START}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
echo "$port"
