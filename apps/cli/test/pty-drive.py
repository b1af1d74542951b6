"""Runs a command in a pseudo-terminal, answering prompts as a person would.

argv[1] is JSON: {"argv": [...], "env": {...}, "steps": [{"wait": regex, "send": text}], "timeout": s,
"interrupt_on": regex (optional: type Ctrl-C once the screen shows it)}. Prints the raw screen
transcript; exits with the command's exit code (124 when it had to be killed).
"""
import fcntl, json, os, pty, re, select, signal, struct, sys, termios, time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])

fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
steps = list(spec.get("steps", []))
interrupt_on = spec.get("interrupt_on")
transcript = b""
seen_until = 0
deadline = time.time() + spec.get("timeout", 120)
killed = False
while True:
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        killed = True
        break
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
    fresh = ANSI.sub(b"", transcript[seen_until:]).decode("utf-8", "replace")
    if steps and re.search(steps[0]["wait"], fresh):
        time.sleep(0.05)
        os.write(fd, steps[0]["send"].encode())
        seen_until = len(transcript)
        steps.pop(0)
    elif interrupt_on and re.search(interrupt_on, fresh):
        os.write(fd, b"\x03")
        interrupt_on = None
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(transcript)
sys.exit(124 if killed else os.waitstatus_to_exitcode(status))
