/** Largest TCP port number. */
const MAX_PORT = 65_535;

/** A host without colons, brackets, slashes or spaces, a colon, and the port digits. */
const HOST_AND_PORT = /^([^\s:[\]/]+):(\d+)$/;

/**
 * Returns what is wrong with a Kafka bootstrap address, or undefined when it is `host:port` with a
 * port from 1 to 65535. The result completes a sentence that starts with the address.
 *
 * An IPv6 literal such as `[::1]:9092` is rejected because kafkajs 2.2.4 splits a bootstrap
 * address at its first colon (`cluster/connectionPoolBuilder.js`), so it would connect to host `[`.
 */
export function brokerAddressProblem(address: string): string | undefined {
  if (address.trim() === '') {
    return 'is empty; list host:port addresses such as 10.0.0.5:9092';
  }
  if (address.startsWith('[')) {
    return 'is an IPv6 literal, which kafkajs 2.2.4 cannot connect to; use a host name or an IPv4 address';
  }
  const match = HOST_AND_PORT.exec(address);
  if (match === null) {
    return 'is not a host:port address; write it like 10.0.0.5:9092';
  }
  const port = Number(match[2]);
  if (port < 1 || port > MAX_PORT) {
    return `has port ${match[2]}, outside 1 to ${MAX_PORT}; use the port the broker listens on, such as 9092`;
  }
  return undefined;
}
