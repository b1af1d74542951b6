import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import styles from './Terminal.module.css';

/**
 * A shell on a VM: xterm.js over the API's terminal WebSocket (same origin, so the session cookie
 * authenticates it). Keystrokes go as binary frames, size changes as JSON text frames.
 */
export function VmTerminal({ vmId, vmName, onClose }: { vmId: string; vmName: string; onClose?: () => void }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState('connecting…');
  useEffect(() => {
    const term = new XTerm({
      cursorBlink: true,
      fontSize: 13,
      theme: { background: '#05080c' },
      screenReaderMode: true,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(
      `${scheme}://${location.host}/api/v1/vms/${vmId}/terminal?cols=${term.cols}&rows=${term.rows}`,
    );
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (message) => {
      if (typeof message.data === 'string') {
        const notice = JSON.parse(message.data) as { type: string; message: string };
        if (notice.type === 'ready') setState(`connected as ${notice.message}`);
        else {
          setState(notice.message);
          term.write(`\r\n\x1b[33m[${notice.message}]\x1b[0m\r\n`);
        }
        return;
      }
      term.write(new Uint8Array(message.data as ArrayBuffer));
    };
    socket.onclose = (event) =>
      setState((current) =>
        event.reason ? `closed: ${event.reason}` : current === 'connecting…' ? 'refused' : `closed (${current})`,
      );
    const encoder = new TextEncoder();
    const input = term.onData((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    const resize = term.onResize(({ cols, rows }) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'resize', cols, rows }));
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(host.current!);
    term.focus();
    return () => {
      observer.disconnect();
      input.dispose();
      resize.dispose();
      socket.close();
      term.dispose();
    };
  }, [vmId]);
  return (
    <section className={styles.wrap} aria-label={`Terminal on ${vmName}`}>
      <div className={styles.bar}>
        <strong>{vmName}</strong>
        <span className="muted" data-testid="terminal-state">
          {state}
        </span>
        <span className="spacer" />
        {onClose && (
          <button type="button" onClick={onClose}>
            Close terminal
          </button>
        )}
      </div>
      <div ref={host} className={styles.screen} data-testid="terminal" />
    </section>
  );
}
