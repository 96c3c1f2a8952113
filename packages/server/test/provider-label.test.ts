/**
 * One rule names a provider the operator declared without a label, from the file or the
 * environment: the vendor's name when the id is one, else the id title-cased word by word.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envCatalog, providerLabel } from '../src/bootstrap/sources.js';
import { loadConfig } from '../src/config.js';

test('providerLabel: vendor names, then the id title-cased', () => {
  const cases: [string, string][] = [
    ['openai', 'OpenAI'],
    ['anthropic', 'Anthropic'],
    ['google', 'Google Gemini'],
    ['ollama', 'Ollama'],
    ['azure-openai', 'Azure OpenAI'],
    ['groq', 'Groq'],
    ['vllm', 'vLLM'],
    ['lmstudio', 'LM Studio'],
    ['openai-main', 'OpenAI Main'],
    ['local-vllm', 'Local vLLM'],
    ['local', 'Local'],
    ['eu_west.2', 'Eu West 2'],
  ];
  for (const [id, label] of cases) assert.equal(providerLabel(id), label, id);
});

test('the environment providers are named by the same rule', () => {
  const config = loadConfig({
    OPENAI_API_KEY: 'sk-a',
    ANTHROPIC_API_KEY: 'sk-b',
    GEMINI_API_KEY: 'g',
    OLLAMA_BASE_URL: 'http://127.0.0.1:11434',
  });
  const providers = envCatalog(config).providers;
  assert.deepEqual(
    providers.map((p) => [p.slug, p.label]),
    [
      ['openai', 'OpenAI'],
      ['anthropic', 'Anthropic'],
      ['google', 'Google Gemini'],
      ['ollama', 'Ollama'],
    ],
  );
  for (const p of providers) assert.equal(p.label, providerLabel(p.slug));
});
