// The OpenAPI 3.0 description of /api/v1, served at /api/v1/openapi.json. Kept beside api.ts; the API
// test checks that every route api.ts answers is described here and the other way round.

const recordValue = {
  type: 'object',
  required: ['values'],
  properties: {
    ttl: { type: 'integer', minimum: 0, maximum: 2147483647, default: 60 },
    values: {
      type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string' },
      description: 'RDATA in zone-file presentation format; a name without a trailing dot is relative to the zone',
    },
  },
  example: { ttl: 60, values: ['10.1.2.3'] },
};

const record = {
  type: 'object',
  properties: {
    name: { type: 'string', example: 'www.example.com.' },
    type: { type: 'string', example: 'A' },
    ttl: { type: 'integer' },
    values: { type: 'array', items: { type: 'string' } },
  },
};

const error = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', example: 'KDNS_RECORD_INVALID' },
        field: { type: 'string', nullable: true, example: 'values[0]' },
        message: { type: 'string' },
      },
    },
  },
};

const errorResponse = (description: string): object => ({
  description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const zoneParam = { name: 'zone', in: 'path', required: true, schema: { type: 'string' }, example: 'example.com' };
const nameParam = {
  name: 'name', in: 'path', required: true, schema: { type: 'string' },
  description: "owner name: '@' for the apex, a name relative to the zone, or an absolute name", example: 'www',
};
const typeParam = {
  name: 'type', in: 'path', required: true,
  schema: { type: 'string', enum: ['A', 'AAAA', 'CNAME', 'SRV', 'PTR', 'TXT', 'MX', 'NS'] },
};

export const OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'kdns dynamic zones', version: '1' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in --api-token-file' } },
    schemas: { RecordValue: recordValue, Record: record, Error: error },
  },
  paths: {
    '/api/v1/zones': {
      get: {
        summary: 'List the dynamic zones with their SOA serials',
        responses: { 200: { description: 'zones', content: { 'application/json': { schema: {
          type: 'object',
          properties: { zones: { type: 'array', items: { type: 'object', properties: { zone: { type: 'string' }, serial: { type: 'integer' } } } } },
        } } } } },
      },
    },
    '/api/v1/zones/{zone}/records': {
      get: {
        summary: "List a zone's RRsets (its SOA first)",
        parameters: [zoneParam, { name: 'name', in: 'query', required: false, schema: { type: 'string' } }],
        responses: {
          200: { description: 'records', content: { 'application/json': { schema: {
            type: 'object',
            properties: { zone: { type: 'string' }, serial: { type: 'integer' }, records: { type: 'array', items: { $ref: '#/components/schemas/Record' } } },
          } } } },
          404: errorResponse('no such dynamic zone'),
        },
      },
    },
    '/api/v1/zones/{zone}/records/{name}/{type}': {
      put: {
        summary: 'Replace the RRset (name, type)',
        security: [{ bearer: [] }],
        parameters: [zoneParam, nameParam, typeParam],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/RecordValue' } } } },
        responses: {
          200: { description: 'the RRset as stored, with the new serial', content: { 'application/json': { schema: { $ref: '#/components/schemas/Record' } } } },
          400: errorResponse('bad input; `field` names it'),
          401: errorResponse('missing or wrong bearer token'),
          403: errorResponse('writes are disabled (no --api-token-file)'),
          404: errorResponse('no such dynamic zone'),
          409: errorResponse('a CNAME would stand beside other data'),
        },
      },
      delete: {
        summary: 'Delete the RRset (name, type)',
        security: [{ bearer: [] }],
        parameters: [zoneParam, nameParam, typeParam],
        responses: {
          204: { description: 'deleted' },
          401: errorResponse('missing or wrong bearer token'),
          403: errorResponse('writes are disabled (no --api-token-file)'),
          404: errorResponse('no such zone or RRset'),
        },
      },
    },
    '/api/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.0 JSON' } } } },
  },
};
