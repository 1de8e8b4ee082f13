import { describe, expect, it } from 'vitest'
import { parseXfcc } from '../../src/http/xfcc.ts'

describe("Envoy's x-forwarded-client-cert parser", () => {
  it('reads elements and quoted values as Envoy writes them', () => {
    const header =
      'By=spiffe://lyft.com/frontend;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;' +
      'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=spiffe://lyft.com/test,' +
      'By=spiffe://lyft.com/backend;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;' +
      'Subject="CN=a\\"quoted\\", name;x=y"'
    expect(parseXfcc(header)).toEqual([
      {
        by: 'spiffe://lyft.com/frontend',
        hash: '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688',
        subject: '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client',
        uri: 'spiffe://lyft.com/test',
      },
      {
        by: 'spiffe://lyft.com/backend',
        hash: '9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e',
        subject: 'CN=a"quoted", name;x=y',
      },
    ])
  })

  it('refuses what is ambiguous: unterminated quotes, repeated keys, text after a quote, bare words', () => {
    for (const bad of ['Cert="abc', 'Cert=a;Cert=b', 'Subject="a"b', 'justtext', 'a'.repeat(70_000)]) {
      expect(parseXfcc(bad), bad.slice(0, 20)).toBeUndefined()
    }
  })
})
