import { AppError } from '../errors';
import { summarizeConfig } from '../apps/pipeline-config';
import type { Command } from './context';
import { table } from './format';

const json = { json: { type: 'boolean' } } as const;

export const appCommands: Command[] = [
  {
    name: 'apps list',
    summary: 'list apps',
    usage: 'apps list [--json]',
    options: { ...json },
    async run(ctx) {
      const apps = await (await ctx.services()).apps.list();
      if (ctx.json) return ctx.printJson({ apps });
      ctx.out(table(['SLUG', 'NAME', 'CREATED'], apps.map((a) => [a.slug, a.name, a.created_at])));
    },
  },
  {
    name: 'apps create',
    summary: 'create an app',
    usage: 'apps create SLUG [--name NAME] [--json]',
    positionals: ['slug'],
    options: { name: { type: 'string' }, ...json },
    async run(ctx) {
      const app = await (await ctx.services()).apps.create({ slug: ctx.arg(0), name: ctx.string('name') }, 'cli');
      if (ctx.json) return ctx.printJson({ app });
      ctx.out(`Created app ${app.slug} ("${app.name}"). Add a pipeline with: mechamental pipelines add chat --app ${app.slug} --kind echo`);
    },
  },
];

export const pipelineCommands: Command[] = [
  {
    name: 'pipelines list',
    summary: "list an app's pipelines",
    usage: 'pipelines list --app APP [--json]',
    options: { app: { type: 'string' }, ...json },
    async run(ctx) {
      const pipelines = await (await ctx.services()).pipelines.list(ctx.required('app'));
      if (ctx.json) return ctx.printJson({ pipelines });
      ctx.out(table(['SLUG', 'KIND', 'CONFIG'], pipelines.map((p) => [p.slug, p.kind, summarizeConfig(p.kind, p.config)])));
    },
  },
  {
    name: 'pipelines add',
    summary: 'add a pipeline to an app',
    usage: 'pipelines add SLUG --app APP --kind echo|command|http|openai [--config JSON] [--json]',
    help: `Examples:
  mechamental pipelines add chat --app default --kind echo
  mechamental pipelines add wc --app default --kind command --config '{"argv":["wc","-c"]}'
  mechamental pipelines add llm --app default --kind openai --config '{"base_url":"http://127.0.0.1:11434/v1","model":"llama3.2"}'`,
    positionals: ['slug'],
    options: { app: { type: 'string' }, kind: { type: 'string' }, config: { type: 'string' }, ...json },
    async run(ctx) {
      const configText = ctx.string('config');
      let config: unknown = {};
      if (configText !== undefined) {
        try {
          config = JSON.parse(configText);
        } catch (error) {
          throw new AppError('usage', `pipelines add: --config is not valid JSON (${(error as Error).message})`);
        }
      }
      const pipeline = await (await ctx.services()).pipelines.create(ctx.required('app'), { slug: ctx.arg(0), kind: ctx.required('kind'), config }, 'cli');
      if (ctx.json) return ctx.printJson({ pipeline });
      ctx.out(`Added pipeline ${pipeline.slug} (${pipeline.kind}) to app ${pipeline.app}: POST /v1/trigger/${pipeline.slug}`);
    },
  },
  {
    name: 'pipelines remove',
    summary: 'remove a pipeline from an app',
    usage: 'pipelines remove SLUG --app APP',
    positionals: ['slug'],
    options: { app: { type: 'string' }, ...json },
    async run(ctx) {
      const app = ctx.required('app');
      await (await ctx.services()).pipelines.remove(app, ctx.arg(0), 'cli');
      if (ctx.json) return ctx.printJson({ removed: ctx.arg(0) });
      ctx.out(`Removed pipeline ${ctx.arg(0)} from app ${app}.`);
    },
  },
];
