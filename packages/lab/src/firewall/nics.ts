/**
 * The NIC side of containment. A VM's firewall objects decide nothing for a NIC whose `firewall=1`
 * flag is gone, and a NIC moved to another bridge or tag sits on someone else's segment (another
 * copy's, say): so the overseer watches each lab VM's `netN` lines as well as its firewall objects.
 * The digest covers what places a NIC and decides its filtering (model and MAC, bridge, tag, trunks,
 * the firewall flag, the link state) and ignores the rest (rate, queues, MTU), in any key order.
 */
import { createHash } from 'node:crypto';

const NET_KEY = /^net(\d+)$/;
const MODELS = new Set(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'ne2k_pci', 'pcnet', 'i82551', 'i82557b']);
const PLACING = ['bridge', 'tag', 'trunks', 'firewall', 'link_down'] as const;

/** One `netN` value (`virtio=AA:BB:…,bridge=vmbr0,tag=5,firewall=1`) reduced to what the digest covers. */
export function nicEssentials(value: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const part of value.split(',')) {
    const [key, ...rest] = part.split('=');
    if (!key) continue;
    const text = rest.join('=');
    if (MODELS.has(key)) {
      found.model = key;
      if (text) found.mac = text.toUpperCase();
    } else if (key === 'model') found.model = text;
    else if (key === 'macaddr') found.mac = text.toUpperCase();
    else if ((PLACING as readonly string[]).includes(key)) found[key] = text;
  }
  // Absent flags mean off: `firewall=0` and no `firewall` are the same NIC.
  for (const flag of ['firewall', 'link_down'] as const) {
    if (found[flag] === '0' || found[flag] === undefined) delete found[flag];
  }
  return found;
}

/** The `netN` lines of a VM config (`GET …/config`), by key. */
export function nicLines(config: Readonly<Record<string, unknown>>): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (NET_KEY.test(key) && value !== undefined && value !== null) lines[key] = String(value);
  }
  return lines;
}

/** SHA-256 (hex) of a VM's NICs as its config holds them: equal for equal placement and filtering. */
export function vmNicDigest(config: Readonly<Record<string, unknown>>): string {
  const nics = Object.entries(nicLines(config))
    .sort(([a], [b]) => Number(NET_KEY.exec(a)![1]) - Number(NET_KEY.exec(b)![1]))
    .map(([key, value]) => {
      const essentials = nicEssentials(value);
      return [
        key,
        Object.keys(essentials)
          .sort()
          .map((name) => `${name}=${essentials[name]}`),
      ];
    });
  return createHash('sha256').update(JSON.stringify(nics)).digest('hex');
}
