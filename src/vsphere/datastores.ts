/** Datastore operations over SOAP: FileManager, HostDatastoreBrowser, HostDatastoreSystem, Datastore. */
import { at, date, list, num, obj, ref, str, toSoapRef, xsiType } from './convert';
import type { DatastorePath } from './datastore-path';
import { formatDatastorePath, joinDatastorePath, parseDatastorePath } from './datastore-path';
import type { Session } from './session';
import type { Tasks, TaskWaitOptions } from './tasks';
import type { DatastoreFileInfo, MoRef } from './types';

/** Options of a datastore search. */
export interface SearchOptions extends Omit<TaskWaitOptions, 'method'> {
  /**
   * Glob patterns (`*`, `?`) a name must match. Default: `['*']`. Always sent explicitly: some
   * endpoints match nothing when the pattern list is empty.
   */
  readonly matchPattern?: readonly string[] | undefined;
}

/** SOAP datastore operations. Paths are datastore paths (`[ds] folder/file`). */
export class Datastores {
  readonly #session: Session;
  readonly #tasks: Tasks;

  /** @internal */
  constructor(session: Session, tasks: Tasks) {
    this.#session = session;
    this.#tasks = tasks;
  }

  /**
   * Creates a folder (FileManager.MakeDirectory). `createParents` default true. `datacenter` is
   * required by a vCenter and ignored by a standalone host. Throws FileAlreadyExistsError when it exists.
   */
  async makeDirectory(
    path: DatastorePath | string,
    opts: { readonly datacenter?: MoRef | undefined; readonly createParents?: boolean } = {},
  ): Promise<void> {
    const name = toText(path);
    const args: Record<string, unknown> = { name };
    if (opts.datacenter !== undefined) args.datacenter = toSoapRef(opts.datacenter);
    args.createParentDirectories = opts.createParents ?? true;
    await this.#session.call('MakeDirectory', this.#fileManager(), args, { object: name });
  }

  /** Deletes a file or a folder with its contents (DeleteDatastoreFile_Task). Throws FileNotFoundError when absent. */
  async deleteFile(
    path: DatastorePath | string,
    opts: { readonly datacenter?: MoRef | undefined } = {},
    options: Omit<TaskWaitOptions, 'method'> = {},
  ): Promise<void> {
    const name = toText(path);
    const args: Record<string, unknown> = { name };
    if (opts.datacenter !== undefined) args.datacenter = toSoapRef(opts.datacenter);
    const task = ref(
      await this.#session.call('DeleteDatastoreFile_Task', this.#fileManager(), args, { object: name }),
    );
    if (task !== undefined) await this.#tasks.wait(task, { ...options, method: 'DeleteDatastoreFile_Task' });
  }

  /**
   * Moves (renames) a file on a datastore (FileManager.MoveDatastoreFile_Task); `force` replaces an
   * existing destination. A sparse file keeps its holes. Throws FileNotFoundError when the source is absent.
   */
  async moveFile(
    source: DatastorePath | string,
    destination: DatastorePath | string,
    opts: { readonly datacenter?: MoRef | undefined; readonly force?: boolean } = {},
    options: Omit<TaskWaitOptions, 'method'> = {},
  ): Promise<void> {
    const sourceName = toText(source);
    const dc = opts.datacenter === undefined ? undefined : toSoapRef(opts.datacenter);
    const args: Record<string, unknown> = { sourceName };
    if (dc !== undefined) args.sourceDatacenter = dc;
    args.destinationName = toText(destination);
    if (dc !== undefined) args.destinationDatacenter = dc;
    args.force = opts.force ?? false;
    const task = ref(
      await this.#session.call('MoveDatastoreFile_Task', this.#fileManager(), args, { object: sourceName }),
    );
    if (task !== undefined) await this.#tasks.wait(task, { ...options, method: 'MoveDatastoreFile_Task' });
  }

  /**
   * Lists a folder (SearchDatastore_Task on the datastore's browser), one level deep, with type,
   * size and modification time. Throws FileNotFoundError when the folder does not exist.
   */
  async search(
    browser: MoRef,
    folder: DatastorePath | string,
    options: SearchOptions = {},
  ): Promise<DatastoreFileInfo[]> {
    const folderText = toText(folder);
    const searchSpec = {
      details: { fileType: true, fileSize: true, modification: true, fileOwner: false },
      searchCaseInsensitive: false,
      matchPattern: [...(options.matchPattern ?? ['*'])],
      sortFoldersFirst: true,
    };
    const task = ref(
      await this.#session.call(
        'SearchDatastore_Task',
        browser,
        { datastorePath: folderText, searchSpec },
        { object: folderText, signal: options.signal },
      ),
    );
    if (task === undefined) return [];
    const result = await this.#tasks.wait(task, { ...options, method: 'SearchDatastore_Task' });
    const base = parseDatastorePath(str(at(result, 'folderPath')) ?? folderText);
    return list(at(result, 'file')).flatMap((f) => {
      const name = str(at(f, 'path'));
      if (name === undefined || obj(f) === undefined) return [];
      const fileType = xsiType(f);
      return [
        {
          path: formatDatastorePath(joinDatastorePath(base, name)),
          name,
          kind: fileType === 'FolderFileInfo' ? ('folder' as const) : ('file' as const),
          fileType,
          size: num(at(f, 'fileSize')),
          modified: date(at(f, 'modification')),
        },
      ];
    });
  }

  /** Unmounts/removes a datastore from a host (HostDatastoreSystem.RemoveDatastore); how an NFS datastore is unmounted. */
  async remove(datastoreSystem: MoRef, datastore: MoRef): Promise<void> {
    await this.#session.call('RemoveDatastore', datastoreSystem, { datastore: toSoapRef(datastore) });
  }

  /** Refreshes a datastore's capacity and free space (Datastore.RefreshDatastore). */
  async refresh(datastore: MoRef): Promise<void> {
    await this.#session.call('RefreshDatastore', datastore);
  }

  #fileManager(): MoRef {
    const fm = this.#session.refs.fileManager;
    if (fm === undefined) throw new TypeError('endpoint has no FileManager');
    return fm;
  }
}

function toText(path: DatastorePath | string): string {
  return typeof path === 'string' ? path : formatDatastorePath(path);
}
