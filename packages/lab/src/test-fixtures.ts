/** Inputs shared by this package's tests. Public keys only: nothing here is secret. */
export const ED25519_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMmjW30Js6gHPlhtSwLTWePH90Uto6FkSw1g4z+722sL trainee@range';
export const RSA_KEY =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDZ76RzHFyTgptvYzJqJy4NyyjB+0em+Tzec9sze7IA969lRe7CywYrpuJbGWfOmiBiFEyOigUpmIrY0D7SA/3QXO1Bd6HmR1XivzKDbQ3x1mM+466IlrzLZbxudVDYDqzjHUEXHDmx+RmJEVdaV+M5dV41CeonT2kJ2qnT/f5dMw== rsa@range';
export const ECDSA_KEY =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMyXyj+DPDm4pSdS+CgGyB+8I26XfF8JxTrDig+MxcpVIV3LziQfpV5eMBhry/ITVXTGUkuzkjy5G8brxjm+QtQ= ec@range';

/** The full example lab spec of the original design (kept as a test input), with a real key in place of its placeholder. */
export const DESIGN_EXAMPLE_YAML = `
name: web-pentest-101
ttl: 8h
copies: 1                      # N independent copies for a class, each with its own networks
onFailure: fail                # or: keep (the lab ends "degraded" with what succeeded)
networks:
  - name: lan                  # isolated per deployment: a VLAN tag / vnet leased from a pool
    cidr: 10.10.0.0/24
    egress: deny               # may it reach outside the lab?
vms:
  - name: target
    os: ubuntu-22.04           # sizes default from the OS profile
    networks: [lan]            # or [{name: lan, ip: 10.10.0.10}]
    provision:
      - run: apt-get install -y apache2
  - name: attacker
    os: kali
    cpus: 2
    memoryMiB: 4096
    networks: [lan]
    cloudInit: {user: trainee, sshKeys: ["${ED25519_KEY}"]}
    dependsOn: [target]        # attacker's post-configuration waits until target is ready
`;

/** Loosely typed on purpose: tests break it in ways the schema's types would not allow. */
export interface LooseSpec {
  [key: string]: unknown;
  networks: Record<string, unknown>[];
  vms: Record<string, unknown>[];
}

/** A small valid spec to derive broken ones from: one network, two VMs. */
export function baseSpec(): LooseSpec {
  return {
    name: 'base',
    networks: [{ name: 'lan', cidr: '10.10.0.0/24' }],
    vms: [
      { name: 'a', os: 'ubuntu-22.04', networks: ['lan'] },
      { name: 'b', os: 'debian-12', networks: ['lan'] },
    ],
  };
}
