import { Model, snakeCaseMappers } from 'objection';

/**
 * The one base class of every model.
 *
 * Column names are mapped with Objection's `columnNameMappers`: a model's own
 * top-level properties are camelCase in JS (`ownerId`) and snake_case in the
 * database (`owner_id`). Only those top-level keys are renamed: JSON column
 * contents (`signals.payload`) are stored and returned exactly as given. The
 * knex instance itself stays plain, so raw knex queries, migrations, and
 * identifiers inside query builders (`where('owner_id', ...)`,
 * `orderBy('created_at', 'desc')`) use the real snake_case column names.
 */
export class BaseModel extends Model {
  static override columnNameMappers = snakeCaseMappers();

  /** Properties stored as JSON; none unless a model says so (no guessing from values). */
  static override jsonAttributes: string[] = [];
}
