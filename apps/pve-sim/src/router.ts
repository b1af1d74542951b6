/** The API's route table: path templates with `{name}` segments, their parameters and handlers. */
import { NotImplementedError } from './errors';
import type { Simulator } from './sim';
import type { Identity } from './tasks';
import type { ParamSpec, ParamSpecs } from './validate';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HandlerContext {
  sim: Simulator;
  /** Query/body parameters merged with the path's `{name}` values. */
  params: Record<string, string>;
  who: Identity;
}

/** A list answer that also carries PVE's top-level `total` (task logs). */
export class Paged {
  constructor(
    readonly items: unknown[],
    readonly total: number,
  ) {}
}

export interface Route {
  method: Method;
  /** Template such as `/nodes/{node}/qemu/{vmid}/config`. */
  path: string;
  /** Parameters including the path's own. */
  params: ParamSpecs;
  /** Accepts parameter names outside `params` (VM config keys). */
  extraParams?: (name: string) => ParamSpec | undefined;
  /** Callable without authentication (`/access/ticket`, `/access/domains`). */
  public?: boolean;
  /** Refuses API tokens (`allowtoken: 0`), e.g. the ticket call. */
  denyToken?: boolean;
  handler: (ctx: HandlerContext) => unknown;
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

/** Non-empty segments of a path: a route's parameters never match an empty one. */
const segmentCount = (path: string) => path.split('/').filter(Boolean).length;

export class Router {
  /** Routes by method and segment count (a path can only match routes with as many), in table order. */
  private readonly compiled = new Map<string, CompiledRoute[]>();

  constructor(routes: Route[]) {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      const key = `${route.method} ${segmentCount(route.path)}`;
      const bucket = this.compiled.get(key) ?? [];
      bucket.push({ route, pattern: new RegExp(`^${source}/?$`), names });
      this.compiled.set(key, bucket);
    }
  }

  /** The route for a request plus its path values; 501 as PVE answers for anything unknown. */
  match(method: string, path: string): { route: Route; pathParams: Record<string, string> } {
    for (const { route, pattern, names } of this.compiled.get(`${method} ${segmentCount(path)}`) ?? []) {
      const found = pattern.exec(path);
      if (!found) continue;
      const pathParams: Record<string, string> = {};
      names.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(found[i + 1]!);
      });
      return { route, pathParams };
    }
    throw new NotImplementedError(method, path);
  }
}
