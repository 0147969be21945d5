import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { INDEX_ALL_SERVERS, INDEX_BY_LEASE, INDEX_BY_PROJECT } from '../functions/core/table.js';

/**
 * The attribute DynamoDB's TTL reads (epoch seconds). Idempotency and finished action records are
 * meant to carry it so they expire on their own; the table is ready for it even before the code
 * writes it (an item without the attribute never expires).
 */
export const TTL_ATTRIBUTE = 'expiresAt';

export interface OperationsTableProps {
  /** Deletion protection and RETAIN; turn off only for throwaway stacks (LocalStack, dev). */
  readonly deletionProtection: boolean;
}

/**
 * The one table, keyed as functions/core/table.ts reads it and as local/emulators.ts creates it
 * for the tests: pk/sk, the project index for listing servers, and the sparse lease index the
 * sweeper queries (only items holding a claim have leaseShard, so the index holds only claims).
 */
export class OperationsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: OperationsTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      // On-demand: claims come in bursts (50 conflicting requests at once); no capacity to plan.
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // Encrypted at rest with DynamoDB's own key (the default): no KMS charge on every claim.
      deletionProtection: props.deletionProtection,
      // The table is the system of record: a stack deletion must not take it along.
      removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: INDEX_BY_PROJECT,
      partitionKey: { name: 'gsi1pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Admins' all_tenants lists: every live server by creation time, spread over shards.
    this.table.addGlobalSecondaryIndex({
      indexName: INDEX_ALL_SERVERS,
      partitionKey: { name: 'gsi2pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi2sk', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: INDEX_BY_LEASE,
      partitionKey: { name: 'leaseShard', type: AttributeType.STRING },
      sortKey: { name: 'leaseUntil', type: AttributeType.NUMBER },
      // The sweeper reads only the key, then the instance itself with a consistent read.
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }

  /** The ARN of one index, for a grant that names exactly the index a function queries. */
  indexArn(indexName: string): string {
    return `${this.table.tableArn}/index/${indexName}`;
  }
}
