/** Inputs attackers use, shared by the security tests. */

/** Names that an object literal inherits from Object.prototype (and `__proto__`, `prototype`). */
export const PROTO_NAMES = [
  'constructor',
  'toString',
  'valueOf',
  '__proto__',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupGetter__',
  'prototype',
];
