# Your function, run by bash: the request body is on stdin, the response is what you write to stdout
# (it streams back as you write it). A non-zero exit before any output becomes a 500.
# This example echoes the body byte for byte; POST to /lines to get three lines, 100 ms apart, instead.
case "${Http_Path:-/}" in
  /lines)
    for i in 1 2 3; do
      echo "line $i"
      sleep 0.1
    done
    ;;
  *)
    cat
    ;;
esac
