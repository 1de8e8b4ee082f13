/**
 * The deployment's brand (issue 14 §7): the name, logo, colours and support link every page
 * and mail carries. From the environment (PRODUCT_NAME, BRAND_*; src/config/env.ts validates
 * them, so the colours are plain hex and the URLs http(s) or mailto).
 */
export interface Brand {
  product: string
  /** absolute http(s) URL of the logo image */
  logoUrl?: string
  /** `#rgb` or `#rrggbb`: buttons, links, the brand line */
  primaryColor?: string
  /** `#rgb` or `#rrggbb`: the page background */
  backgroundColor?: string
  /** where a user gets help: an http(s) or mailto: URL */
  supportUrl?: string
}

export const DEFAULT_BRAND: Brand = Object.freeze({ product: 'portcullis' })

export function brandOf(config: {
  PRODUCT_NAME: string
  BRAND_LOGO_URL?: string
  BRAND_PRIMARY_COLOR?: string
  BRAND_BACKGROUND_COLOR?: string
  BRAND_SUPPORT_URL?: string
}): Brand {
  return Object.freeze({
    product: config.PRODUCT_NAME,
    ...(config.BRAND_LOGO_URL ? { logoUrl: config.BRAND_LOGO_URL } : {}),
    ...(config.BRAND_PRIMARY_COLOR ? { primaryColor: config.BRAND_PRIMARY_COLOR } : {}),
    ...(config.BRAND_BACKGROUND_COLOR ? { backgroundColor: config.BRAND_BACKGROUND_COLOR } : {}),
    ...(config.BRAND_SUPPORT_URL ? { supportUrl: config.BRAND_SUPPORT_URL } : {}),
  })
}

/** The stylesheet that carries the brand's colours as CSS variables (served as /assets/brand.css). */
export function brandCss(brand: Brand): string {
  const vars = [
    brand.primaryColor ? `--accent: ${brand.primaryColor};` : '',
    brand.backgroundColor ? `--bg: ${brand.backgroundColor};` : '',
  ]
    .filter(Boolean)
    .join(' ')
  return vars ? `:root { ${vars} }\n` : '/* no brand colours configured */\n'
}

/** The origin of an off-site logo, for the CSP's img-src (undefined: none, or our own). */
export function logoOrigin(brand: Brand, publicUrl: string): string | undefined {
  if (!brand.logoUrl) return undefined
  const origin = new URL(brand.logoUrl).origin
  return origin === new URL(publicUrl).origin ? undefined : origin
}
