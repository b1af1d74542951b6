import type { LabCatalogEntry } from './types';

const sensorClients = '10.30.0.5';
const sensorServers = '10.31.0.5';
const webAddress = '10.31.0.10';

/** A oneshot unit that routes `destination` through the sensor, so the sensor sees the traffic. */
function routeUnit(destination: string, via: string): string {
  return `[Unit]
Description=Route lab traffic through the sensor
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=ip route replace ${destination} via ${via}

[Install]
WantedBy=multi-user.target
`;
}

// Rotating full-packet capture on every interface, ten minutes per file. Bare command names are
// looked up by systemd (v239+), since Debian and Ubuntu do not agree on every binary's directory.
const captureUnit = `[Unit]
Description=Lab full-packet capture
After=network-online.target

[Service]
ExecStartPre=mkdir -p /var/capture
ExecStart=tcpdump -i any -n -s 0 -G 600 -Z root -w /var/capture/lab-%%Y%%m%%d-%%H%%M%%S.pcap
Restart=always

[Install]
WantedBy=multi-user.target
`;

// Background browsing plus a suspicious beacon (odd user agent, fixed interval) for trainees to find.
const trafficScript = `#!/bin/sh
while true; do
  curl -s -o /dev/null http://${webAddress}/
  curl -s -o /dev/null -A 'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)' "http://${webAddress}/update.php?id=$(hostname)"
  sleep 60
done
`;

const trafficUnit = `[Unit]
Description=Lab traffic generator
After=lab-route.service

[Service]
ExecStart=/usr/local/bin/lab-traffic
Restart=always

[Install]
WantedBy=multi-user.target
`;

const enableUnit = (name: string) => ({ run: `systemctl daemon-reload && systemctl enable --now ${name}` });

export const networkForensics: LabCatalogEntry = {
  id: 'network-forensics',
  title: 'Network forensics',
  description:
    'Workstations talk to a web server through an inline Debian sensor that records every packet; trainees analyse the captures with tshark and Suricata to find a beaconing host.',
  // Trainees work from here; their SSH keys go on it.
  parameters: { traineeVms: ['sensor'] },
  spec: {
    name: 'network-forensics',
    description: 'Inline sensor between a client and a server network, with full-packet capture.',
    ttl: '8h',
    onFailure: 'keep',
    // The sensor holds both gateways, so every packet between the two networks crosses it; the only
    // traffic allowed across is the workstations' HTTP to the web server.
    networks: [
      { name: 'clients', cidr: '10.30.0.0/24', egress: 'deny', gateway: sensorClients },
      { name: 'servers', cidr: '10.31.0.0/24', egress: 'deny', gateway: sensorServers },
    ],
    rules: [{ from: 'clients', to: 'web', ports: ['tcp/80'] }],
    vms: [
      {
        name: 'sensor',
        os: 'debian-12',
        cpus: 2,
        memoryMiB: 4096,
        diskGiB: 40,
        networks: [
          { name: 'clients', ip: sensorClients },
          { name: 'servers', ip: sensorServers },
        ],
        cloudInit: { packages: ['tcpdump', 'tshark', 'suricata', 'jq'] },
        provision: [
          { file: { path: '/etc/sysctl.d/90-lab-router.conf', content: 'net.ipv4.ip_forward = 1\n', mode: '0644' } },
          { run: 'sysctl --system' },
          { file: { path: '/etc/systemd/system/lab-capture.service', content: captureUnit, mode: '0644' } },
          enableUnit('lab-capture'),
        ],
      },
      {
        name: 'web',
        os: 'ubuntu-24.04',
        networks: [{ name: 'servers', ip: webAddress }],
        cloudInit: { packages: ['nginx'] },
        provision: [
          {
            file: {
              path: '/etc/systemd/system/lab-route.service',
              content: routeUnit('10.30.0.0/24', sensorServers),
              mode: '0644',
            },
          },
          enableUnit('lab-route'),
          { run: 'systemctl enable --now nginx' },
        ],
      },
      {
        name: 'workstation',
        os: 'ubuntu-22.04',
        count: 2,
        networks: ['clients'],
        provision: [
          {
            file: {
              path: '/etc/systemd/system/lab-route.service',
              content: routeUnit('10.31.0.0/24', sensorClients),
              mode: '0644',
            },
          },
          enableUnit('lab-route'),
          { file: { path: '/usr/local/bin/lab-traffic', content: trafficScript, mode: '0755' } },
          { file: { path: '/etc/systemd/system/lab-traffic.service', content: trafficUnit, mode: '0644' } },
          enableUnit('lab-traffic'),
        ],
        dependsOn: ['sensor', 'web'],
      },
    ],
  },
};
