/** A small OS mark for nodes: letters on the distribution's colour (no image downloads). */
export const OS_MARK: Record<string, { text: string; color: string }> = {
  'ubuntu-22.04': { text: 'U22', color: '#e95420' },
  'ubuntu-24.04': { text: 'U24', color: '#f07c4a' },
  'debian-12': { text: 'D12', color: '#d70a53' },
  kali: { text: 'K', color: '#367bf0' },
};

export function osMark(os: string | undefined) {
  return OS_MARK[os ?? ''] ?? { text: '?', color: '#8a96a3' };
}
