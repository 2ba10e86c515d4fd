export type { FeatureStore } from '@nexttap/features';
