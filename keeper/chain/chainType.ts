/**
 * The kinds of chain the keeper knows, by their fees: a plain L1, an OP-stack rollup, Arbitrum. Pure data (the
 * configuration table imports it); reading the fees is `l1Fee.ts`.
 */
export const CHAIN_TYPES = ["l1", "op", "arbitrum"] as const;
export type ChainType = (typeof CHAIN_TYPES)[number];

/** OP-stack chains by id: OP Mainnet and Sepolia, Base and Base Sepolia, Unichain and its Sepolia, World Chain, Mode, Zora, Fraxtal, Ink. */
export const OP_STACK_CHAIN_IDS: ReadonlySet<number> = new Set([10, 11155420, 8453, 84532, 130, 1301, 480, 34443, 7777777, 252, 57073, 763373]);
/** Arbitrum chains by id: One, Nova, Sepolia. */
export const ARBITRUM_CHAIN_IDS: ReadonlySet<number> = new Set([42161, 42170, 421614]);

/** The chain's type: the configured one (`CHAIN_TYPE`), else known by its id, else a plain L1. */
export function chainTypeFor(chainId: number, configured?: ChainType): ChainType {
  if (configured !== undefined) return configured;
  if (OP_STACK_CHAIN_IDS.has(chainId)) return "op";
  if (ARBITRUM_CHAIN_IDS.has(chainId)) return "arbitrum";
  return "l1";
}

