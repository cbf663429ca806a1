import type * as Swagger from '@nestjs/swagger';

/**
 * The admin controller's OpenAPI decorators, recorded instead of applied: @nestjs/swagger (and
 * the many modules it pulls in) loads only when someone first opens /docs, not at every start
 * of a chat server. applyAnnotations() then runs the real decorators on the same targets, in
 * the order TypeScript applied these.
 */
type SwaggerDecorators = Pick<
  typeof Swagger,
  'ApiBearerAuth' | 'ApiBody' | 'ApiOperation' | 'ApiParam' | 'ApiResponse' | 'ApiTags'
>;
type Name = keyof SwaggerDecorators;
/** Applies to a class (no key) or to a method (key and descriptor), like swagger's own. */
type Decorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => void;

interface Annotation {
  name: Name;
  args: unknown[];
  target: object;
  key?: string | symbol;
  descriptor?: PropertyDescriptor;
}

const recorded: Annotation[] = [];

function recorder<N extends Name>(
  name: N,
): (...args: Parameters<SwaggerDecorators[N]>) => Decorator {
  return (...args) =>
    (target, key, descriptor) => {
      recorded.push({ name, args, target, key, descriptor });
    };
}

export const ApiBearerAuth = recorder('ApiBearerAuth');
export const ApiBody = recorder('ApiBody');
export const ApiOperation = recorder('ApiOperation');
export const ApiParam = recorder('ApiParam');
export const ApiResponse = recorder('ApiResponse');
export const ApiTags = recorder('ApiTags');

/** Runs every recorded annotation through swagger's decorator of that name, once. */
export function applyAnnotations(swagger: SwaggerDecorators): void {
  for (const { name, args, target, key, descriptor } of recorded.splice(0)) {
    const decorate = (swagger[name] as (...args: unknown[]) => Decorator)(...args);
    decorate(target, key, descriptor);
  }
}
