/**
 * Admission control for work that contends inside Proxmox. Full clones from one storage serialise on its
 * storage lock, held 10 s at most by each waiter before `got timeout`; a node runs only ~3 API handlers
 * at once. Counted slots in Redis, shared by every worker on every machine, keep the load below both.
 *
 * Each slot set (a node, or a node's storage) has an ordered waiting line: a caller joins it with its
 * place (its lab copy, lower first; then its task's remaining critical path, the longest chain still
 * ahead first; equal ones in the order they came) and a slot that frees goes to the first in line at
 * once, inside the same Redis script that frees it, which then publishes whom it granted so the
 * waiter wakes without polling (on a channel per process: each hears only of its own waiters, where
 * every process used to read every grant). Holders and waiters keep their place with heartbeats, so a dead
 * holder's slot and a dead waiter's place lapse after `slotTtlMs`; a waiter also checks the line
 * itself every 2 s, which covers a wake-up lost while its subscription reconnected and a slot that
 * lapsed.
 *
 * Clones are spread out: one set grants at most one clone per the shortest of its recent clone
 * holds (of clones that went through) divided by its slots (the pace its slots could take clones at
 * anyway), passing a clone whose turn has not come for work behind it in line, and telling it when
 * its turn comes if a slot stays free. A clone that was in line at its turn but found no slot free
 * then passes the spacing on from its turn, not from its late grant (though never less than half a
 * gap after it): counted from the grants, each such wait pushed every later turn back (the class
 * bench: clones 0.36 s apart on average against a 0.29 s spacing). And in a node's line the clones
 * of the next copies go before other work: a start ranks `cloneLeadOrders` copies later than its
 * own. A clone held back holds back every VM cloned after it on the node, while a start is short
 * and its VM waits long after it anyway (for its guest, its copy's check for the firewall's
 * compile); with each copy's starts first, they took the slots that freed before a clone's turn,
 * the clone then waited for the next one, and a node's clones came no faster than its slots' frees
 * after their turns (see the class bench's slot phase). Every clone takes the storage's lock early
 * in its task (a linked clone to allocate its cloud-init drive and link its disk); granted
 * together, as slots freed together, they queued there while holding their node slots, and their
 * ends scattered so that the task waits saw them late. Until a set has measured a clone hold, the
 * spacing assumes one (`assumedCloneHoldMs`): a cold node's first clones all granted at once queued
 * for the lock the same way, ended together well after the shortest hold, and the spacing learned
 * from those long holds then refilled the slots slowly (the class bench: its first 8 clones per
 * node released together 4.2 s after their grant, the next ones granted 0.5 s apart).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@glassdome/logger';
import type { Cluster, Redis } from 'ioredis';
import { onAbort } from './abort';
import { AdmissionTimeoutError } from './errors';

export interface AdmissionLimits {
  /**
   * Full clones running at once against one (node, storage).
   * @defaultValue 2
   */
  fullClonesPerStorage: number;
  /**
   * Admitted operations (clones included) running at once on one node.
   * @defaultValue 8
   */
  operationsPerNode: number;
  /**
   * How long a caller may wait for a slot before AdmissionTimeoutError.
   * @defaultValue 600000
   */
  acquireTimeoutMs: number;
  /**
   * A slot's (and a place in line's) lifetime in Redis; refreshed every third of it while held (or
   * while waiting), so only a dead holder's slot or a dead waiter's place lapses.
   * @defaultValue 30000
   */
  slotTtlMs: number;
  /**
   * The clone hold the spacing of clones assumes on a slot set until one has been measured there (a
   * linked clone on LVM-thin takes a couple of seconds): the first clones of a cold node are spaced by
   * it / the limit instead of all granted at once.
   * @defaultValue 2000
   */
  assumedCloneHoldMs: number;
  /**
   * How many orders (a lab's copies) later than its own a caller's work other than a clone ranks in a
   * node's line, so that the clones of the next copies go first (see the head of this file).
   * @defaultValue 9
   */
  cloneLeadOrders: number;
}

export const defaultAdmissionLimits: AdmissionLimits = {
  fullClonesPerStorage: 2,
  operationsPerNode: 8,
  acquireTimeoutMs: 600_000,
  slotTtlMs: 30_000,
  assumedCloneHoldMs: 2_000,
  cloneLeadOrders: 9,
};

export interface CloneSlotRequest {
  node: string;
  /** Storage the clone writes to. */
  storage: string;
  /** Only full clones take a storage slot; linked ones are short and take only the node slot. */
  full: boolean;
}

export interface AdmissionOptions {
  /** A server, a Sentinel-watched master or a cluster connection (a line's keys share one slot). */
  redis: Redis | Cluster;
  /** Key prefix, a Redis Cluster hash tag such as `{glassdome}` (the queue prefix). */
  prefix: string;
  limits?: Partial<AdmissionLimits>;
  logger?: Logger;
}

/** How long the callers of one slot set waited for it, and held it, since its keys were made. */
export interface AdmissionWaits {
  grants: number;
  waitedMs: number;
  maxWaitMs: number;
  /**
   * The slots' time taken, from each grant to its release by Redis's clock: beside the holds below, it
   * counts a granted slot before its holder has woken to use it, and after its work until given back.
   */
  occupiedMs: number;
  /**
   * The slots' use by kind of work (`clone`, `resize`, `start`…, `other` when the caller named none):
   * how many holds ended with the slot given back, their time in all and the shortest one whose work
   * went through.
   */
  holds: Record<string, AdmissionHolds>;
}

/** The holds of one kind of work: from the grant to the release, as the holder timed them. */
export interface AdmissionHolds {
  count: number;
  heldMs: number;
  minMs: number;
}

/**
 * How many of a slot set's last clone holds the spacing takes the shortest of. The shortest of them,
 * not of all time: a storage that got slower (busier, fuller) spaces its clones out again within
 * this many clones, where an all-time record would only ever tighten.
 */
const RECENT_CLONE_HOLDS = 8;

/** Lua shared by the scripts: Redis's clock, the sweep of lapsed holders and waiters, the hand-over. */
const LINE_LUA = `
local SCANNED = 64
local later
local holders, line, alive, since, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(value) return string.format('%.0f', value) end
for _, token in ipairs(redis.call('ZRANGEBYSCORE', holders, '-inf', ms(now))) do
  redis.call('HDEL', since, 'granted:' .. token)
end
redis.call('ZREMRANGEBYSCORE', holders, '-inf', ms(now))
local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', ms(now))
for _, token in ipairs(dead) do
  redis.call('ZREM', line, token)
  redis.call('ZREM', alive, token)
  redis.call('HDEL', since, token)
end
-- Grants free slots in line order, except that clones (tokens 'clone:…') are granted at most one per
-- the shortest of the recent clone holds / limit (the assumed hold until one was measured), counted from the last
-- clone's turn (see below): a clone first in line before its turn is passed over (for work behind
-- it) and, when a slot stays free for it, named as 'later' with the ms until its turn.
local function grant(limit, ttl, assumedHold)
  local granted = {}
  local free = limit - redis.call('ZCARD', holders)
  if free <= 0 then return granted end
  local gap = tonumber(redis.call('HGET', stats, 'clone:spacingMs') or assumedHold) / limit
  local lastClone = redis.call('HGET', stats, 'cloneTurnAt')
  local nextClone = tonumber(lastClone or '-1e15') + gap
  for _, token in ipairs(redis.call('ZRANGE', line, 0, SCANNED - 1)) do
    if free <= 0 then break end
    local clone = string.sub(token, 1, 6) == 'clone:'
    if clone and now < nextClone then
      if not later then later = { token, nextClone - now, nextClone } end
    else
      if clone and gap > 0 then
        -- A clone in line at its turn that found no slot free: the next turn counts from its turn
        -- (never less than half a gap after its grant), not from its late grant.
        local turn = now
        if lastClone and tonumber(redis.call('HGET', since, token) or now) <= nextClone then
          turn = math.max(now - gap / 2, nextClone)
        end
        -- Whole ms, as stored: the next clone's turn named now is the one every later call names.
        turn = tonumber(ms(turn))
        nextClone = turn + gap
        redis.call('HSET', stats, 'cloneTurnAt', ms(turn))
      end
      free = free - 1
      granted[#granted + 1] = token
    end
  end
  if free <= 0 then later = nil end
  for _, token in ipairs(granted) do
    redis.call('ZADD', holders, ms(now + ttl), token)
    redis.call('ZREM', line, token)
    redis.call('ZREM', alive, token)
    local waited = now - tonumber(redis.call('HGET', since, token) or now)
    redis.call('HDEL', since, token)
    redis.call('HSET', since, 'granted:' .. token, ms(now))
    redis.call('HINCRBY', stats, 'grants', 1)
    redis.call('HINCRBY', stats, 'waitedMs', ms(waited))
    if waited > tonumber(redis.call('HGET', stats, 'maxWaitMs') or '0') then
      redis.call('HSET', stats, 'maxWaitMs', ms(waited))
    end
  end
  return granted
end
-- Whether the clone named 'later' has not been told of that turn yet (and now counts as told): each
-- call on the line while it waits names it again, and telling it every time woke it again for nothing.
local function laterIsNews()
  if not later then return false end
  local named = later[1] .. '@' .. ms(later[3])
  if redis.call('HGET', stats, 'laterNamed') == named then return false end
  redis.call('HSET', stats, 'laterNamed', named)
  return true
end
-- Publishes the granted tokens and, when a clone waits for its turn with a slot free and was not told
-- yet, 'later:<ms>:<token>', each to its process's channel (<channel>:<id>, the id before the '/' of
-- a token): a process hears only of its own waiters.
local function announce(channel, granted)
  local tellLater = laterIsNews()
  if #granted == 0 and not tellLater then return end
  local words, channels = {}, {}
  local function tell(token, word)
    local owner = string.match(token, '(%w+)/')
    local to = owner and (channel .. ':' .. owner) or channel
    if not words[to] then
      words[to] = {}
      channels[#channels + 1] = to
    end
    table.insert(words[to], word)
  end
  for _, token in ipairs(granted) do tell(token, token) end
  if tellLater then tell(later[1], 'later:' .. ms(math.ceil(later[2])) .. ':' .. later[1]) end
  for _, to in ipairs(channels) do redis.call('PUBLISH', to, table.concat(words[to], ' ')) end
end
`;

/**
 * Joins the line (or keeps its place and heartbeat) and hands out the free slots; 1 when this caller
 * holds a slot, -<ms> when it is a clone whose turn comes in that many ms with a slot free for it, 0
 * otherwise. ARGV: token, limit, ttl, rank (lower goes first), channel, assumed clone hold ms.
 */
const ACQUIRE_LUA = `${LINE_LUA}
local token, limit, ttl, rank, channel, assumedHold = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
if redis.call('ZSCORE', holders, token) then
  redis.call('ZADD', holders, ms(now + ttl), token)
  return 1
end
if not redis.call('ZSCORE', line, token) then
  local seq = redis.call('INCR', KEYS[6])
  redis.call('ZADD', line, ms(rank * 1e6 + seq % 1e6), token)
  redis.call('HSET', since, token, ms(now))
end
redis.call('ZADD', alive, ms(now + ttl), token)
local mine, others = 0, {}
for _, granted in ipairs(grant(limit, ttl, assumedHold)) do
  if granted == token then mine = 1 else others[#others + 1] = granted end
end
if later and later[1] == token then
  -- Rounded up: a clone that looked again a fraction of a ms before its turn was told to wait 1 ms more.
  if mine == 0 then mine = -math.max(1, math.ceil(later[2])) end
  -- Told by this answer: nobody publishes that turn to it again.
  laterIsNews()
  later = nil
end
announce(channel, others)
return mine
`;

/**
 * Leaves the line or gives the slot back, and hands the freed slots on; a slot given back counts its
 * hold under its kind, and a hold whose work went through (`done` 1) also as the kind's shortest and,
 * for a clone, among the last RECENT_CLONE_HOLDS the spacing takes the shortest of. ARGV: token,
 * limit, ttl, channel, kind ('' for a place in line), held ms, assumed clone hold ms, done (1 or 0).
 */
const RELEASE_LUA = `${LINE_LUA}
local token, limit, ttl, channel, kind, held, assumedHold, done = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local grantedAt = redis.call('HGET', since, 'granted:' .. token)
redis.call('HDEL', since, 'granted:' .. token)
if redis.call('ZREM', holders, token) == 1 and grantedAt then
  redis.call('HINCRBY', stats, 'occupiedMs', ms(now - tonumber(grantedAt)))
end
if grantedAt and kind ~= '' then
  local key = 'held:' .. kind
  redis.call('HINCRBY', stats, key .. ':count', 1)
  redis.call('HINCRBY', stats, key .. ':ms', held)
  if done == '1' then
    local least = redis.call('HGET', stats, key .. ':minMs')
    if not least or tonumber(held) < tonumber(least) then redis.call('HSET', stats, key .. ':minMs', held) end
    if kind == 'clone' then
      local recent, shortest = { held }, tonumber(held)
      for value in string.gmatch(redis.call('HGET', stats, 'clone:recentMs') or '', '[^,]+') do
        if #recent < ${RECENT_CLONE_HOLDS} then
          recent[#recent + 1] = value
          shortest = math.min(shortest, tonumber(value))
        end
      end
      redis.call('HSET', stats, 'clone:recentMs', table.concat(recent, ','), 'clone:spacingMs', ms(shortest))
    end
  end
end
redis.call('ZREM', line, token)
redis.call('ZREM', alive, token)
redis.call('HDEL', since, token)
local granted = grant(limit, ttl, assumedHold)
announce(channel, granted)
return #granted
`;

/** Extends a held slot; 0 when it lapsed meanwhile (and may be someone else's now). ARGV: token, ttl. */
const REFRESH_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
return 1
`;

/** Each script's SHA-1, as Redis names a script it has cached. */
const scriptShas = new Map<string, string>();

/**
 * Runs a script by its SHA-1 (EVALSHA), and sends its text (EVAL) only when Redis has not cached it
 * (NOSCRIPT: a restarted or flushed server, another node of a cluster): the acquire and release
 * scripts are about 4 kB each, written and hashed by Redis on every call with EVAL, where EVALSHA
 * sends 40 bytes. A script is run exactly once either way: Redis refuses an unknown SHA before
 * running anything.
 */
async function evalScript(
  redis: Redis | Cluster,
  script: string,
  keysAndArgs: (string | number)[],
  keyCount: number,
): Promise<unknown> {
  let sha = scriptShas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    scriptShas.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, keyCount, ...keysAndArgs);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(script, keyCount, ...keysAndArgs);
  }
}

/**
 * A slot set's keys in Redis (one hash tag, so one cluster slot) and the channel its grants go out on
 * (followed by `:<id>` of the grantee's process).
 */
interface Line {
  name: string;
  keys: [holders: string, line: string, alive: string, since: string, stats: string, seq: string];
  channel: string;
  limit: number;
}

/** A caller waiting in this process: whether a grant was published for it, and how to wake it. */
interface Waiter {
  granted: boolean;
  wake?: () => void;
  /** The wake-up at its clone's turn it was told of (one at a time: a newer turn replaces it). */
  turn?: NodeJS.Timeout;
}

/**
 * Places in line, lower first: an order (a lab's copy, up to 999), then a priority in tenths of a
 * second of remaining critical path (up to ~28 h) within an order, then the arrival (the script's
 * counter). A caller without a priority ranks after all of them.
 */
const RANKS = 1_000_000;
const ORDERS = 1_000;

/** The longest a waiter goes without checking the line itself. */
const WAITER_CHECK_MS = 2_000;

/** What every view of one Admission shares: the connection, the subscription and this process's waiters. */
class Lines {
  readonly limits: AdmissionLimits;
  readonly prefix: string;
  readonly logger: Logger | undefined;
  readonly #redis: Redis | Cluster;
  #subscriber: { connection: Redis | Cluster; ready: Promise<Redis | Cluster> } | undefined;
  readonly #subscribed = new Map<string, Promise<unknown>>();
  /** Channels whose subscription is in place (ioredis renews it after a reconnect). */
  readonly #listening = new Set<string>();
  readonly #waiters = new Map<string, Waiter>();
  /**
   * This process's part of its tokens (`<id>/<uuid>`): the scripts publish a grant on the line's
   * channel for the grantee's process (`<channel>:<id>`), so a process hears only of its own waiters.
   */
  readonly #id = randomBytes(6).toString('hex');

  constructor(options: AdmissionOptions) {
    this.#redis = options.redis;
    this.prefix = options.prefix;
    this.logger = options.logger;
    this.limits = { ...defaultAdmissionLimits, ...options.limits };
  }

  line(name: string, limit: number): Line {
    const base = `${this.prefix}:pve:${name}`;
    return {
      name: base,
      keys: [`${base}:holders`, `${base}:line`, `${base}:alive`, `${base}:since`, `${base}:stats`, `${base}:seq`],
      channel: `${base}:granted`,
      limit,
    };
  }

  /**
   * Waits for a slot of `line` in the order of `rank`; resolves with the holder's token. A caller that
   * has to wait in line is set aside meanwhile by `setAside` (see Admission.withPriority).
   */
  async acquire(line: Line, rank: number, kind: string, signal?: AbortSignal, setAside?: SetAside): Promise<string> {
    signal?.throwIfAborted();
    await this.#subscribe(`${line.channel}:${this.#id}`);
    // A clone's token says so: the line spaces clones out (see grant in LINE_LUA).
    const token = `${kind === 'clone' ? 'clone:' : ''}${this.#id}/${randomUUID()}`;
    const waiter: Waiter = { granted: false };
    this.#waiters.set(token, waiter);
    const deadline = Date.now() + this.limits.acquireTimeoutMs;
    // A waiter also checks the line itself every few seconds: should a wake-up ever go missing, the
    // slot it was granted waits that long at most.
    const heartbeat = Math.min(this.#third(), WAITER_CHECK_MS);
    let back: (() => void) | undefined;
    try {
      for (;;) {
        const answer = waiter.granted
          ? 1
          : Number(
              await this.#eval(
                ACQUIRE_LUA,
                line,
                token,
                line.limit,
                this.limits.slotTtlMs,
                rank,
                line.channel,
                this.limits.assumedCloneHoldMs,
              ),
            );
        if (answer === 1) return token;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new AdmissionTimeoutError(
            `no slot of ${line.name} (limit ${line.limit}) within ${this.limits.acquireTimeoutMs} ms`,
          );
        }
        back ??= setAside?.();
        // A clone told when its turn comes looks again then.
        if (!waiter.granted) await this.#wakeUp(waiter, Math.min(answer < 0 ? -answer : heartbeat, left), signal);
      }
    } catch (error) {
      // Out of the line, and a slot granted meanwhile goes on to the next (its hold not counted).
      await this.release(line, token);
      throw error;
    } finally {
      back?.();
      clearTimeout(waiter.turn);
      this.#waiters.delete(token);
    }
  }

  /** Keeps a held slot alive every third of its TTL until the returned stop is called. */
  hold(line: Line, token: string): () => void {
    const timer = setInterval(() => {
      evalScript(this.#redis, REFRESH_LUA, [line.keys[0], token, this.limits.slotTtlMs], 1)
        .then((held) => {
          if (held !== 1) this.logger?.warn({ key: line.name }, 'admission slot lost while held');
        })
        .catch((error: Error) =>
          this.logger?.warn({ key: line.name, err: error.message }, 'admission slot refresh failed'),
        );
    }, this.#third());
    // The work keeps the process alive, not its slot.
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Gives the slot (or the place in line) back; a `hold` names the work done in the slot, its time and
   * whether it went through (a clone that failed at once says nothing of how long clones take).
   */
  async release(line: Line, token: string, hold?: { kind: string; ms: number; done: boolean }): Promise<void> {
    await this.#eval(
      RELEASE_LUA,
      line,
      token,
      line.limit,
      this.limits.slotTtlMs,
      line.channel,
      hold?.kind ?? '',
      hold ? Math.max(0, Math.round(hold.ms)) : 0,
      this.limits.assumedCloneHoldMs,
      hold?.done ? 1 : 0,
    ).catch((error: Error) => {
      this.logger?.warn(
        { key: line.name, err: error.message },
        'admission slot release failed; it lapses with its TTL',
      );
    });
  }

  async waits(line: Line): Promise<AdmissionWaits> {
    const stats = await this.#redis.hgetall(line.keys[4]);
    const holds: Record<string, AdmissionHolds> = {};
    for (const [field, value] of Object.entries(stats)) {
      const held = /^held:(.+):count$/.exec(field);
      if (!held) continue;
      const kind = held[1]!;
      holds[kind] = {
        count: Number(value),
        heldMs: Number(stats[`held:${kind}:ms`] ?? 0),
        minMs: Number(stats[`held:${kind}:minMs`] ?? 0),
      };
    }
    return {
      grants: Number(stats.grants ?? 0),
      waitedMs: Number(stats.waitedMs ?? 0),
      maxWaitMs: Number(stats.maxWaitMs ?? 0),
      occupiedMs: Number(stats.occupiedMs ?? 0),
      holds,
    };
  }

  close(): void {
    this.#subscriber?.connection.disconnect();
    this.#subscriber = undefined;
    this.#subscribed.clear();
    this.#listening.clear();
  }

  #third(): number {
    return Math.max(1, Math.round(this.limits.slotTtlMs / 3));
  }

  #eval(script: string, line: Line, ...args: (string | number)[]): Promise<unknown> {
    return evalScript(this.#redis, script, [...line.keys, ...args], line.keys.length);
  }

  /**
   * Subscribes (once per channel) to the grants of a line, on a connection of its own that sends no
   * handshake commands (ioredis's client-info and ready check could reach the server after a
   * SUBSCRIBE sent while connecting, be refused in subscriber mode and recycle the connection with
   * the subscription lost); it subscribes only once that connection is ready, and ioredis renews the
   * subscriptions when it reconnects. Waits a few seconds at most: waiters check the line anyway.
   */
  #subscribe(channel: string): Promise<unknown> {
    if (this.#listening.has(channel)) return Promise.resolve();
    let subscribed = this.#subscribed.get(channel);
    if (!subscribed) {
      const subscriber = this.#subscriberReady();
      subscribed = subscriber
        .then((connection) => connection.subscribe(channel))
        .then(() => this.#listening.add(channel));
      // A failed subscribe is tried again by the next caller.
      subscribed.catch(() => this.#subscribed.delete(channel));
      this.#subscribed.set(channel, subscribed);
    }
    // Only the first callers of a channel wait for its subscription; the timer does not hold the process.
    return Promise.race([subscribed.catch(() => undefined), sleep(WAITER_CHECK_MS, undefined, { ref: false })]);
  }

  #subscriberReady(): Promise<Redis | Cluster> {
    if (!this.#subscriber) {
      const quiet = { enableReadyCheck: false, disableClientInfo: true };
      const redis = this.#redis;
      const subscriber = redis.isCluster
        ? (redis as Cluster).duplicate(undefined, {
            redisOptions: { ...(redis as Cluster).options.redisOptions, ...quiet },
          })
        : (redis as Redis).duplicate(quiet);
      subscriber.on('error', (error: Error) => this.logger?.warn({ err: error.message }, 'admission subscription'));
      subscriber.on('message', (_channel: string, message: string) => {
        for (const word of message.split(' ')) {
          // `later:<ms>:<token>`: a clone first in line whose turn comes in <ms>, with a slot free.
          const later = /^later:(\d+):(.+)$/.exec(word);
          const waiter = this.#waiters.get(later ? later[2]! : word);
          if (!waiter) continue;
          if (later) {
            clearTimeout(waiter.turn);
            waiter.turn = setTimeout(() => waiter.wake?.(), Number(later[1])).unref();
            continue;
          }
          waiter.granted = true;
          waiter.wake?.();
        }
      });
      this.#subscriber = {
        connection: subscriber,
        ready:
          subscriber.status === 'ready'
            ? Promise.resolve(subscriber)
            : new Promise((resolve) => subscriber.once('ready', () => resolve(subscriber))),
      };
    }
    return this.#subscriber.ready;
  }

  /** Resolves when the waiter is granted or `ms` pass; rejects with the signal's reason. */
  #wakeUp(waiter: Waiter, ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        unwatch?.();
        waiter.wake = undefined;
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      waiter.wake = () => {
        done();
        resolve();
      };
      const unwatch =
        signal &&
        onAbort(signal, () => {
          done();
          reject(signal.reason);
        });
    });
  }
}

/** Marks the constructor's form that makes a view of an Admission (module-private: see withPriority). */
const VIEW = Symbol('admission view');

/** Frees the caller's worker slot while it waits in line; the function returned takes it back. */
export type SetAside = () => () => void;

export class Admission {
  readonly limits: AdmissionLimits;
  readonly #lines: Lines;
  readonly #rank: number;
  readonly #setAside: SetAside | undefined;

  constructor(options: AdmissionOptions | { [VIEW]: Lines; priorityMs: number; order: number; setAside?: SetAside }) {
    if (VIEW in options) {
      this.#lines = options[VIEW];
      this.#setAside = options.setAside;
      const order = Math.min(ORDERS - 1, Math.max(0, Math.floor(options.order)));
      const priority = Math.min(RANKS - 1, Math.floor(Math.max(0, options.priorityMs) / 100));
      this.#rank = order * RANKS + (RANKS - 1 - priority);
    } else {
      this.#lines = new Lines(options);
      this.#rank = RANKS * ORDERS;
    }
    this.limits = this.#lines.limits;
  }

  /**
   * The same slots, asked for with a place in line: of the callers waiting for a slot, those with the
   * smaller `order` (a lab's copy) get it first, and of one order those with the larger `priorityMs`
   * (a task's remaining critical path), then in order of arrival. Callers without a priority come
   * after every prioritized one. The copy goes first so that a lab of many copies brings them up one
   * after another: with the path first, every copy's last VMs came up at the very end and all their
   * copies' checks with them (the class bench: 30 checks bunched in the last seconds, the slowest
   * 7–8 s against 2.3 s alone); a lab of one copy is ordered by its critical path alone.
   * While a caller waits in line, `setAside` (a job's JobContext.setAside) frees its worker slot, so
   * that the jobs waiting for a node do not keep others (a configure task, which needs no slot) from
   * a worker.
   */
  withPriority(priorityMs: number, order = 0, setAside?: SetAside): Admission {
    return new Admission({ [VIEW]: this.#lines, priorityMs, order, setAside });
  }

  /**
   * Runs `work` holding a node slot and, for a full clone, a slot of its (node, storage). A `signal`
   * that fires while waiting for a slot ends the wait with its reason. Its holds count as `clone`.
   */
  async withCloneSlot<T>(request: CloneSlotRequest, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!request.full) return this.withNodeSlot(request.node, work, signal, 'clone');
    // Storage before node, always in this order, so two callers never hold one each of the other's.
    return this.withStorageSlot(
      request.node,
      request.storage,
      () => this.withNodeSlot(request.node, work, signal, 'clone'),
      signal,
      'clone',
    );
  }

  /**
   * Runs `work` holding one of the (node, storage)'s slots (`fullClonesPerStorage` of them, shared
   * with full clones) and no node slot: for work that waits on the storage's lock but keeps no node
   * worker busy, such as a disk resize (lvextend under the lock): counted with the full clones, which
   * hold that lock long, it does not time out behind them.
   */
  withStorageSlot<T>(
    node: string,
    storage: string,
    work: () => Promise<T>,
    signal?: AbortSignal,
    kind = 'other',
  ): Promise<T> {
    return this.#withSlot(this.#storageLine(node, storage), work, signal, kind);
  }

  /**
   * Runs `work` holding one of the node's operation slots (a `signal` ends the wait for it); `kind`
   * names the work in the slots' records of use (see nodeWaits).
   */
  withNodeSlot<T>(node: string, work: () => Promise<T>, signal?: AbortSignal, kind = 'other'): Promise<T> {
    // Work other than a clone lets the clones of the next copies go first (see the head of this file).
    const rank =
      kind === 'clone' || this.#rank >= RANKS * ORDERS
        ? this.#rank
        : Math.min(RANKS * ORDERS - 1, this.#rank + this.limits.cloneLeadOrders * RANKS);
    return this.#withSlot(this.#nodeLine(node), work, signal, kind, rank);
  }

  /** How long callers waited for the node's operation slots and held them, over every process that used them. */
  nodeWaits(node: string): Promise<AdmissionWaits> {
    return this.#lines.waits(this.#nodeLine(node));
  }

  /** The same for a (node, storage)'s slots: full clones and storage work (see withStorageSlot). */
  storageWaits(node: string, storage: string): Promise<AdmissionWaits> {
    return this.#lines.waits(this.#storageLine(node, storage));
  }

  /** Ends the subscription to grants (the Redis connection given stays the caller's). */
  close(): void {
    this.#lines.close();
  }

  #nodeLine(node: string): Line {
    return this.#lines.line(`node:${node}`, this.limits.operationsPerNode);
  }

  #storageLine(node: string, storage: string): Line {
    return this.#lines.line(`clone:${node}:${storage}`, this.limits.fullClonesPerStorage);
  }

  async #withSlot<T>(
    line: Line,
    work: () => Promise<T>,
    signal: AbortSignal | undefined,
    kind: string,
    rank = this.#rank,
  ): Promise<T> {
    const token = await this.#lines.acquire(line, rank, kind, signal, this.#setAside);
    const stop = this.#lines.hold(line, token);
    const granted = performance.now();
    let done = false;
    try {
      signal?.throwIfAborted();
      const result = await work();
      done = true;
      return result;
    } finally {
      stop();
      await this.#lines.release(line, token, { kind, ms: performance.now() - granted, done });
    }
  }
}
