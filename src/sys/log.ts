// The JSON logger of the long-running programs (agent, controller). Our errors already carry their
// causes' messages ("host device: the kernel has no ipvlan support"), so the cause is logged as its own
// object rather than appended to the message a second time, which pino's default serializer does.
import { pino, stdSerializers, type Logger } from "pino";

export function createLogger(base: Record<string, string>): Logger {
  return pino({ base, serializers: { err: stdSerializers.errWithCause } });
}
