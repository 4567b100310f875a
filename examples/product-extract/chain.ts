/**
 * Product attribute extraction (Chainette's `product_struct_extract.py`): a free-text product
 * description becomes typed attributes (nested objects, enums, bounded arrays and numbers, nullable
 * fields), a pure function normalises them (price in integer cents, tidy colour names), and a side
 * branch translates the title: its outputs are written under `translate_title/` but not merged.
 * Runs against the bundled simulator or any vLLM server (`--endpoint llama3=http://host:8000/v1`).
 */
import { z } from "zod";
import { apply, Branch, Chain, registerEngine, Step } from "chainette-stream";

registerEngine({
  name: "llama3",
  backend: "vllm_api",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  endpoint: process.env.CHAINETTE_DEMO_ENDPOINT ?? "http://127.0.0.1:8000/v1",
});

const Listing = z.object({ sku: z.string().min(1), description: z.string().min(1) });

const Category = z.enum(["kitchen", "electronics", "apparel", "outdoor", "home", "beauty", "toys"]);
const Currency = z.enum(["USD", "EUR", "GBP"]);

export const ProductAttributes = z.object({
  title: z.string().min(3).max(80).describe("A short catalogue title: brand (if any), product type, key spec"),
  brand: z.string().min(1).nullable().describe("null when the description names no brand"),
  category: Category,
  price: z
    .object({ amount: z.number().min(0).max(10_000), currency: Currency })
    .nullable()
    .describe("null when no price is given"),
  weight_grams: z.number().int().min(1).max(50_000).nullable(),
  dimensions_cm: z
    .object({ width: z.number().positive().max(500), depth: z.number().positive().max(500), height: z.number().positive().max(500) })
    .nullable()
    .describe("Outer size; null unless all three are given"),
  colors: z.array(z.string().min(1)).max(5).describe("Colour options as written, empty when none are listed"),
  features: z.array(z.string().min(1).max(80)).min(1).max(5).describe("The most important selling points"),
});

export const NormalisedProduct = z.object({
  sku: z.string(),
  title: z.string(),
  brand: z.string().nullable(),
  category: Category,
  price_cents: z.number().int().nonnegative().nullable(),
  currency: Currency.nullable(),
  weight_grams: z.number().int().nullable(),
  volume_litres: z.number().nonnegative().nullable(),
  colors: z.array(z.string()),
  feature_count: z.number().int().min(1).max(5),
});

type ProductAttributes = z.infer<typeof ProductAttributes>;
type NormalisedProduct = z.infer<typeof NormalisedProduct>;

const extract = new Step({
  id: "extract",
  name: "Extract product attributes",
  inputModel: Listing,
  outputModel: ProductAttributes,
  engineName: "llama3",
  sampling: { temperature: 0, maxTokens: 400 },
  systemPrompt: "You turn product descriptions into catalogue records. Use only facts stated in the description; use null for anything missing.",
  userPrompt: "SKU {{sku}}\n\n{{description}}",
});

/** Pure TypeScript: integer cents (no float prices downstream), lower-case unique colours, litres of packed volume. */
export function normaliseProduct(attributes: ProductAttributes, sku: string): NormalisedProduct {
  const size = attributes.dimensions_cm;
  return {
    sku,
    title: attributes.title.trim().replace(/\s+/g, " "),
    brand: attributes.brand?.trim() ?? null,
    category: attributes.category,
    price_cents: attributes.price === null ? null : Math.round(attributes.price.amount * 100),
    currency: attributes.price?.currency ?? null,
    weight_grams: attributes.weight_grams,
    volume_litres: size === null ? null : Math.round((size.width * size.depth * size.height) / 10) / 100,
    colors: [...new Set(attributes.colors.map((color) => color.trim().toLowerCase()))],
    feature_count: attributes.features.length,
  };
}

const normalise = apply((attributes: ProductAttributes, context) => normaliseProduct(attributes, Listing.parse(context.chain_input).sku), {
  id: "normalise",
  outputModel: NormalisedProduct,
});

/** A side branch (no `.join`): its output lands in `translate_title/` and stays out of `flattened/`. */
const frenchTitle = new Branch({
  name: "title_fr",
  steps: [
    new Step({
      id: "translate_title",
      name: "Translate the title into French",
      inputModel: NormalisedProduct,
      outputModel: z.object({ title_fr: z.string().min(1).max(120) }),
      engineName: "llama3",
      sampling: { temperature: 0.2, maxTokens: 64 },
      systemPrompt: "Translate product titles into French for a French web shop. Keep brand names as they are.",
      userPrompt: "{{normalise.title}}",
    }),
  ],
});

export const chain = new Chain({ name: "product-extract", steps: [extract, normalise, [frenchTitle]] });
