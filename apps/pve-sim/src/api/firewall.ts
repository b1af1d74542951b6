/** Every firewall endpoint (cluster, security groups, IPSets, aliases, node and VM levels) and the node's services. */
import type { Route } from '../router';
import { firewallClusterRoutes } from './firewall-cluster';
import { firewallGuestRoutes } from './firewall-guest';
import { firewallObjectRoutes } from './firewall-objects';
import { firewallRuleRoutes } from './firewall-rules';
import { serviceRoutes } from './firewall-service';

export const firewallRoutes: Route[] = [
  ...firewallClusterRoutes,
  ...firewallRuleRoutes,
  ...firewallObjectRoutes,
  ...firewallGuestRoutes,
  ...serviceRoutes,
];
