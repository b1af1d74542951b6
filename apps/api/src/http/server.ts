import { createServer, IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Express } from 'express';

/**
 * An HTTP server for `app` whose requests and responses are made with the app's own prototypes
 * (`app.request`, `app.response`), as `app.listen` would serve it otherwise. Express gives each
 * request and response those prototypes when it takes them (`Object.setPrototypeOf` in `app.handle`);
 * on an object made with them already that changes nothing, where on a fresh one V8 moves it to a
 * new map and the property accesses of the whole middleware path go through slower lookups: about
 * a quarter of the API's CPU for a `GET /api/v1/me` (bench/lists.bench.ts).
 */
export function createAppServer(app: Express): Server {
  function AppRequest(this: IncomingMessage, ...args: ConstructorParameters<typeof IncomingMessage>) {
    IncomingMessage.apply(this, args);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>) {
    ServerResponse.apply(this, args);
  }
  AppResponse.prototype = app.response;
  return createServer(
    {
      IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
      ServerResponse: AppResponse as unknown as typeof ServerResponse,
    },
    app,
  );
}
